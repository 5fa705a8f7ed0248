import { parseSigV4Scope, requestScope } from '../../local/http.js';

describe('SigV4 scope', () => {
  it('reads the access key id, region and service of an Authorization header', () => {
    // Prepare
    const auth =
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc';
    // Act
    const scope = parseSigV4Scope(auth);
    // Assess
    expect(scope).toEqual({ accessKeyId: 'AKIDEXAMPLE', region: 'eu-west-1', service: 'ec2' });
  });

  it('is empty for unsigned requests and for SigV2', () => {
    expect(parseSigV4Scope(undefined)).toEqual({});
    expect(parseSigV4Scope('AWS AKIDEXAMPLE:signature')).toEqual({});
  });

  it('falls back to the X-Amz-Credential of a presigned URL', () => {
    // Prepare
    const query = new URLSearchParams({ 'X-Amz-Credential': 'ASIAPRESIGNED/20260101/us-west-2/s3/aws4_request' });
    // Act
    const scope = requestScope(undefined, query);
    // Assess
    expect(scope).toEqual({ accessKeyId: 'ASIAPRESIGNED', region: 'us-west-2', service: 's3' });
    expect(requestScope(undefined, new URLSearchParams())).toEqual({});
  });
});
