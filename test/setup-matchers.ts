import { createRequire } from 'node:module';
// The matchers' types (toHaveReceivedCommandWith, …) come with the package.
import type {} from 'aws-sdk-client-mock-jest';

// aws-sdk-client-mock-jest's ESM build is not marked as a module, so jest's ESM loader cannot
// import it: load the CommonJS build, which registers the matchers on jest's expect.
createRequire(import.meta.url)('aws-sdk-client-mock-jest');
