import { Params, parseQueryParams, queryErrorXml, queryResponseXml, EC2_XMLNS, type XmlObject } from '../../local/protocols/query.js';

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
