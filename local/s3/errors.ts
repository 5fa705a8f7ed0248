import { RestXmlError } from '../protocols/rest-xml.js';

/**
 * An S3 error answer: `code` becomes `<Code>` (the SDK turns it into the error's `name`),
 * `status` the HTTP status, `fields` extra elements of `<Error>` (`Key`, `BucketName`,
 * `ExpectedDigest`…).
 */
export class S3Error extends RestXmlError {
  override name = 'S3Error';
}

export const noSuchBucket = (bucket: string): S3Error =>
  new S3Error('NoSuchBucket', 404, 'The specified bucket does not exist', { BucketName: bucket });

export const noSuchKey = (key: string): S3Error => new S3Error('NoSuchKey', 404, 'The specified key does not exist.', { Key: key });

export const noSuchUpload = (uploadId: string): S3Error =>
  new S3Error(
    'NoSuchUpload',
    404,
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId },
  );

export const invalidArgument = (message: string, name?: string, value?: string): S3Error =>
  new S3Error('InvalidArgument', 400, message, {
    ...(name !== undefined ? { ArgumentName: name } : {}),
    ...(value !== undefined ? { ArgumentValue: value } : {}),
  });

export const invalidRequest = (message: string): S3Error => new S3Error('InvalidRequest', 400, message);

export const malformedXml = (): S3Error =>
  new S3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');
