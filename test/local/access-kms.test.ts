import { kmsKeyArn } from '../../local/ec2/model.js';
import { createKmsKeyRegistry, keyIdFor, KmsKeyNotFoundError } from '../../local/kms/keys.js';

const ACCOUNT = '111122223333';

describe('KMS key registry', () => {
  const keys = createKmsKeyRegistry({ account: ACCOUNT });

  it('resolves an alias to the key ARN the EC2 model stores for it', () => {
    // Act
    const key = keys.resolve('eu-west-1', 'alias/ami-factory');

    // Assess
    expect(key?.arn).toBe(kmsKeyArn('eu-west-1', 'alias/ami-factory'));
    expect(key).toMatchObject({ region: 'eu-west-1', account: ACCOUNT, aliases: ['alias/ami-factory'], manager: 'CUSTOMER' });
  });

  it('gives every region its own key for an alias', () => {
    // Act
    const east = keys.require('us-east-1', 'alias/ami-factory');
    const west = keys.require('eu-west-1', 'alias/ami-factory');
    // Assess: each is its region's key, and they are two keys.
    expect(east).toMatchObject({ region: 'us-east-1', aliases: ['alias/ami-factory'] });
    expect(west).toMatchObject({ region: 'eu-west-1', aliases: ['alias/ami-factory'] });
    expect(east.keyId).not.toBe(west.keyId);
  });

  it('resolves a key id, a key ARN and an alias ARN to the same key', () => {
    // Prepare
    const byAlias = keys.require('us-east-1', 'alias/aws/ebs');

    // Act / Assess
    expect(keys.resolve('us-east-1', byAlias.keyId)).toEqual(byAlias);
    expect(keys.resolve('eu-west-1', byAlias.arn)).toEqual(byAlias);
    expect(keys.resolve('eu-west-1', `arn:aws:kms:us-east-1:${ACCOUNT}:alias/aws/ebs`)).toEqual(byAlias);
  });

  it('gives AWS managed keys the policy that lets the account use them through their service only', () => {
    // Act
    const ebs = keys.awsManaged('us-west-2', 'alias/aws/ebs');
    const ssm = keys.awsManaged('us-west-2', 'alias/aws/ssm');

    // Assess
    expect(ebs.manager).toBe('AWS');
    expect(ebs.policy.Statement[0]?.Condition).toEqual({
      StringEquals: { 'kms:CallerAccount': ACCOUNT, 'kms:ViaService': 'ec2.us-west-2.amazonaws.com' },
    });
    expect(ssm.policy.Statement[0]?.Condition?.StringEquals?.['kms:ViaService']).toBe('ssm.us-west-2.amazonaws.com');
    expect(ebs.keyId).toBe(keyIdFor('us-west-2', 'alias/aws/ebs'));
  });

  it('knows only the declared customer aliases when implicit keys are off', () => {
    // Prepare
    const strict = createKmsKeyRegistry({
      account: ACCOUNT,
      implicitCustomerKeys: false,
      customerKeys: { 'eu-west-1': ['alias/ami-factory'] },
    });

    // Act / Assess
    expect(strict.resolve('eu-west-1', 'alias/ami-factory')?.manager).toBe('CUSTOMER');
    expect(strict.resolve('us-east-1', 'alias/ami-factory')).toBeUndefined();
    expect(() => strict.require('us-east-1', 'alias/ami-factory')).toThrow(KmsKeyNotFoundError);
    expect(strict.resolve('us-east-1', 'alias/aws/ssm')?.manager).toBe('AWS');
  });

  it('has no key for an unknown AWS alias or a malformed reference', () => {
    expect(keys.resolve('us-east-1', 'alias/aws/unknown')).toBeUndefined();
    expect(keys.resolve('us-east-1', 'not-a-key')).toBeUndefined();
  });

  it('resolves another account key ARN as a key of that account', () => {
    // Act
    const key = keys.resolve('us-east-1', 'arn:aws:kms:eu-west-1:444455556666:key/0b1c2d3e-0000-4000-8000-000000000001');

    // Assess
    expect(key).toMatchObject({ account: '444455556666', region: 'eu-west-1', aliases: [], manager: 'CUSTOMER' });
  });
});
