import { S3Error } from './errors.js';

/**
 * Decodes an `aws-chunked` body (`Content-Encoding: aws-chunked`): a sequence of
 * `<hex-size>[;chunk-signature=<sig>]\r\n<data>\r\n`, a final zero-size chunk, then
 * optional trailer lines (`x-amz-checksum-crc32:<base64>`, `x-amz-trailer-signature:…`)
 * and an empty line. The SDK sends it for streaming bodies (payload
 * `STREAMING-UNSIGNED-PAYLOAD-TRAILER`), SigV4 streaming uploads with chunk signatures
 * (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`). Signatures are not verified (the local
 * cloud does not check SigV4 at all); framing and lengths are. Our own code: the SDK only
 * encodes this framing, and no maintained library decodes it.
 */
export interface DecodedChunks {
  data: Buffer;
  /** Trailer headers, names lowercased. */
  trailers: Map<string, string>;
}

const CRLF = Buffer.from('\r\n');

export function decodeAwsChunked(body: Buffer): DecodedChunks {
  const pieces: Buffer[] = [];
  let pos = 0;
  const line = (): string => {
    const end = body.indexOf(CRLF, pos);
    if (end === -1) throw incomplete('chunk header or trailer line is not terminated by CRLF');
    const text = body.subarray(pos, end).toString('latin1');
    pos = end + 2;
    return text;
  };
  for (;;) {
    const header = line();
    const sizeText = (header.split(';', 1)[0] ?? '').trim();
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) throw new S3Error('InvalidRequest', 400, `Invalid aws-chunked chunk size "${sizeText}"`);
    const size = Number.parseInt(sizeText, 16);
    if (size === 0) break;
    if (pos + size + 2 > body.length) throw incomplete('a chunk is shorter than its declared size');
    pieces.push(body.subarray(pos, pos + size));
    pos += size;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a)
      throw new S3Error('InvalidRequest', 400, 'aws-chunked chunk data is not followed by CRLF');
    pos += 2;
  }
  const trailers = new Map<string, string>();
  // After the final chunk: trailer lines, then an empty line (or, without trailers, the end of the body).
  while (pos < body.length) {
    const l = line();
    if (l === '') break;
    const colon = l.indexOf(':');
    if (colon <= 0)
      throw new S3Error(
        'MalformedTrailerError',
        400,
        'The request contained trailing data that was not well-formed or did not conform to our published schema.',
      );
    trailers.set(l.slice(0, colon).trim().toLowerCase(), l.slice(colon + 1).trim());
  }
  return { data: pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces), trailers };
}

function incomplete(why: string): S3Error {
  return new S3Error('IncompleteBody', 400, `You did not provide the number of bytes specified by the Content-Length HTTP header (${why})`);
}
