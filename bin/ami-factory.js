#!/usr/bin/env node
// Entry point of the `ami-factory` CLI. The CLI is TypeScript; tsx's loader runs it as is.
import { register } from 'tsx/esm/api';

// Node 20 is supported for development; Lambda runs nodejs22.x. Keep the SDK's notice out of the CLI's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
