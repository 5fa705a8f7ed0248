// Tests never reach AWS: fake credentials and a region so SDK clients sign requests locally.
process.env.AWS_ACCESS_KEY_ID ??= 'AKIDLOCALTEST';
process.env.AWS_SECRET_ACCESS_KEY ??= 'local-test-secret';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AMI_FACTORY_LOG_LEVEL ??= 'silent';
