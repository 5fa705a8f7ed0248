import fc from 'fast-check';
import {
  Params,
  parseQueryParams,
  queryErrorXml,
  queryResponseXml,
  EC2_XMLNS,
  type XmlObject,
  type XmlValue,
} from '../../local/protocols/query.js';
import { xmlDocument, type XmlElement, type XmlNode } from '../../local/protocols/xml.js';

const AUTOSCALING_XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

describe('Query protocol', () => {
  describe('response XML', () => {
    it('writes the EC2 flavour as the hand-written writer did: item lists, <name/> for empty lists, escaped text', () => {
      // Prepare
      const body: XmlObject = {
        imagesSet: [
          {
            imageId: 'ami-1',
            name: 'a&b <c> "d" \'e\'',
            isPublic: false,
            blockDeviceMapping: [],
            tagSet: undefined,
            size: 8,
            nested: [[], ['x']],
            empty: '',
            obj: {},
          },
          undefined,
        ],
        nextToken: undefined,
        productCodes: [],
      };
      // Act
      const xml = queryResponseXml({ kind: 'ec2', xmlns: EC2_XMLNS }, 'DescribeImages', 'req-1', body);
      // Assess
      expect(xml).toBe(
        '<?xml version="1.0" encoding="UTF-8"?>\n<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' +
          '<requestId>req-1</requestId><imagesSet><item><imageId>ami-1</imageId><name>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;</name>' +
          '<isPublic>false</isPublic><blockDeviceMapping/><size>8</size><nested><item/><item><item>x</item></item></nested>' +
          '<empty></empty><obj></obj></item></imagesSet><productCodes/></DescribeImagesResponse>',
      );
    });

    it('writes what the XML builder (fast-xml-parser) writes for the same body, byte for byte', () => {
      // The builder's tree for a Query body: lists wrapped in item/member elements, empty lists null.
      const node = (v: XmlValue, item: 'item' | 'member'): XmlNode =>
        Array.isArray(v) ? (v.length === 0 ? null : { [item]: v.map((x) => node(x, item)) }) : typeof v === 'object' ? element(v, item) : v;
      const element = (o: XmlObject, item: 'item' | 'member'): XmlElement => {
        const out: XmlElement = {};
        for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = node(v, item);
        return out;
      };
      const built = (kind: 'ec2' | 'awsquery', xmlns: string, action: string, id: string, body: XmlObject | undefined): string =>
        kind === 'ec2'
          ? xmlDocument({ [`${action}Response`]: { '@_xmlns': xmlns, requestId: id, ...element(body ?? {}, 'item') } })
          : xmlDocument({
              [`${action}Response`]: {
                '@_xmlns': xmlns,
                ...(body === undefined ? {} : { [`${action}Result`]: element(body, 'member') }),
                ResponseMetadata: { RequestId: id },
              },
            });
      const text = fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '&', '<', '>', '"', "'", 'é', '-', '\n') });
      // No AWS value is -0 (String(-0) is "0", the builder writes "-0").
      const double = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0));
      const leaf = fc.oneof(text, fc.integer(), double, fc.boolean());
      const { value } = fc.letrec<{ value: XmlValue; object: XmlObject }>((tie) => ({
        value: fc.oneof(
          { depthSize: 'small', withCrossShrink: true },
          leaf,
          // List members are structures or scalars: no Query API has a list of lists (the builder
          // would move a list's empty members first).
          fc.array(fc.oneof(leaf, tie('object'), fc.constant(undefined)), { maxLength: 4 }),
          tie('object'),
        ),
        object: fc.dictionary(
          fc.constantFrom('imageId', 'tagSet', 'Name', 'item', 'x1', 'Value'),
          fc.oneof(tie('value'), fc.constant(undefined)),
          {
            maxKeys: 4,
          },
        ),
      }));
      const body = fc.dictionary(fc.constantFrom('imagesSet', 'nextToken', 'Items', 'return'), value, { maxKeys: 3 });
      fc.assert(
        fc.property(fc.constantFrom<'ec2' | 'awsquery'>('ec2', 'awsquery'), fc.option(body, { nil: undefined }), text, (kind, b, id) => {
          const xmlns = kind === 'ec2' ? EC2_XMLNS : AUTOSCALING_XMLNS;
          const flavour = { kind, xmlns } as const;
          expect(queryResponseXml(flavour, 'DescribeThings', id, b)).toBe(built(kind, xmlns, 'DescribeThings', id, b));
        }),
        { numRuns: 500 },
      );
    });

    it('writes the awsquery flavour with a Result element, member lists and ResponseMetadata', () => {
      // Act
      const xml = queryResponseXml({ kind: 'awsquery', xmlns: AUTOSCALING_XMLNS }, 'DescribeAutoScalingGroups', 'req-3', {
        AutoScalingGroups: [{ Name: 'g', Tags: [], Instances: [{ Id: 'i' }] }],
        NextToken: undefined,
      });
      const empty = queryResponseXml({ kind: 'awsquery', xmlns: AUTOSCALING_XMLNS }, 'DeleteAutoScalingGroup', 'req-4', undefined);
      // Assess
      expect(xml).toBe(
        `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeAutoScalingGroupsResponse xmlns="${AUTOSCALING_XMLNS}">` +
          '<DescribeAutoScalingGroupsResult><AutoScalingGroups><member><Name>g</Name><Tags/><Instances><member><Id>i</Id></member>' +
          '</Instances></member></AutoScalingGroups></DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>req-3</RequestId>' +
          '</ResponseMetadata></DescribeAutoScalingGroupsResponse>',
      );
      expect(empty).toBe(
        `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteAutoScalingGroupResponse xmlns="${AUTOSCALING_XMLNS}">` +
          '<ResponseMetadata><RequestId>req-4</RequestId></ResponseMetadata></DeleteAutoScalingGroupResponse>',
      );
    });

    it('writes errors as each flavour does', () => {
      // Act
      const ec2 = queryErrorXml(
        { kind: 'ec2', xmlns: EC2_XMLNS },
        'InvalidAMIID.NotFound',
        "The image id '[ami-1]' <does> not exist",
        'req-2',
        400,
      );
      const asg = queryErrorXml({ kind: 'awsquery', xmlns: AUTOSCALING_XMLNS }, 'ValidationError', 'bad & worse', 'req-5', 400);
      const internal = queryErrorXml({ kind: 'awsquery', xmlns: AUTOSCALING_XMLNS }, 'InternalFailure', 'oops', 'req-6', 500);
      // Assess
      expect(ec2).toBe(
        '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>InvalidAMIID.NotFound</Code>' +
          '<Message>The image id &apos;[ami-1]&apos; &lt;does&gt; not exist</Message></Error></Errors><RequestID>req-2</RequestID></Response>',
      );
      expect(asg).toBe(
        `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${AUTOSCALING_XMLNS}"><Error><Type>Sender</Type>` +
          '<Code>ValidationError</Code><Message>bad &amp; worse</Message></Error><RequestId>req-5</RequestId></ErrorResponse>',
      );
      expect(internal).toContain('<Type>Receiver</Type>');
    });
  });

  describe('request parameters', () => {
    it('parses flattened lists into a tree, numbered from 1, in index order', () => {
      // Act
      const p = parseQueryParams(
        'Action=DescribeImages&Filter.2.Name=b&Filter.1.Name=a&Filter.1.Value.10=y&Filter.1.Value.2=x&Names.member.1=n',
      );
      // Assess
      expect(p.str('Action')).toBe('DescribeImages');
      expect(p.list('Filter').map((f) => f.str('Name'))).toEqual(['a', 'b']);
      expect(p.list('Filter')[0]?.strings('Value')).toEqual(['x', 'y']);
      expect(p.members('Names')).toEqual(['n']);
    });

    it('refuses malformed values with the parameter named', () => {
      const p = new Params({ DryRun: 'maybe', Count: '1.5' }, 'X');
      expect(() => p.bool('DryRun')).toThrow(expect.objectContaining({ code: 'InvalidParameterValue' }));
      expect(() => p.int('Count')).toThrow(/X\.Count/);
      expect(() => p.required('Missing')).toThrow(expect.objectContaining({ code: 'MissingParameter' }));
    });
  });
});
