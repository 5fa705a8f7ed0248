import { ListObjectsV2Command, PutObjectCommand, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { createS3Service } from '../../local/s3/service.js';
import { serveLocalServices } from '../../local/server.js';
import { AccessDeniedError } from '../../local/protocols/access.js';
import { restXmlDocument, restXmlErrorResponse, RestXmlError } from '../../local/protocols/rest-xml.js';
import { failure } from '../fixtures.js';

describe('REST-XML protocol', () => {
  it('escapes markup characters as entities and control characters as character references, as S3 does', () => {
    // Act
    const xml = restXmlDocument('ListBucketResult', { Key: 'a\u0001b\rc\td\ne&<>"\'\u001f', Empty: '', Gone: undefined });
    // Assess
    expect(xml).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Key>a&#x1;b&#xD;c\td\ne&amp;&lt;&gt;&quot;&apos;&#x1F;</Key><Empty></Empty></ListBucketResult>',
    );
  });

  it('writes errors without a namespace, extra fields before the RequestId, and no body for HEAD', () => {
    // Prepare
    const e = new RestXmlError('NoSuchKey', 404, 'The specified key does not exist.', { Key: 'a<b' });
    // Act
    const get = restXmlErrorResponse(e, { method: 'GET' }, 'REQ1');
    const head = restXmlErrorResponse(e, { method: 'HEAD' }, 'REQ1');
    // Assess
    expect(get.body).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>' +
        '<Key>a&lt;b</Key><RequestId>REQ1</RequestId></Error>',
    );
    expect(head).toEqual({ status: 404, headers: {} });
  });

  it('keeps object keys with control characters intact through a listing (the SDK reads them back)', async () => {
    // Prepare
    const service = createS3Service({ accountId: '000000000000' });
    const served = await serveLocalServices([service]);
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: served.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    });
    const key = 'odd/a\u0001b\rc&<d>"e\'';
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'keys' }));
      await s3.send(new PutObjectCommand({ Bucket: 'keys', Key: key, Body: 'x' }));
      // Act
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'keys' }));
      // Assess
      expect(listed.Contents?.map((o) => o.Key)).toEqual([key]);
    } finally {
      s3.destroy();
      service.close();
      await served.close();
    }
  });

  it('answers a refusal of the authorization seam with AccessDenied 403, the resource quoted as S3 quotes it', async () => {
    // Prepare
    const principal = 'arn:aws:sts::000000000000:assumed-role/planRetention/s';
    const service = createS3Service({
      accountId: '000000000000',
      authorize: (_req, action, requests) => {
        if (action === 'ListObjectsV2') throw AccessDeniedError.of(principal, { action: 's3:ListBucket', resource: 'arn:aws:s3:::keys' });
        expect(requests).toHaveLength(1);
      },
    });
    const served = await serveLocalServices([service]);
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: served.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
    });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'keys' }));
      // Act
      const refused = s3.send(new ListObjectsV2Command({ Bucket: 'keys' }));
      // Assess
      await expect(refused).rejects.toThrow(
        `User: ${principal} is not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::keys" because no identity-based policy allows the s3:ListBucket action`,
      );
      expect(await failure(s3.send(new ListObjectsV2Command({ Bucket: 'keys' })))).toEqual({ name: 'AccessDenied', status: 403 });
    } finally {
      s3.destroy();
      service.close();
      await served.close();
    }
  });
});
