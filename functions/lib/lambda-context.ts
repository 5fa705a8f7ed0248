import type { Context } from 'aws-lambda';
import { ConfigurationError } from './errors.js';

/** The account a function runs in, from its ARN (arn:aws:lambda:<region>:<account>:function:<name>). */
export function accountIdOf(context: Pick<Context, 'invokedFunctionArn'>): string {
  const account = context.invokedFunctionArn.split(':')[4];
  if (account === undefined || !/^\d{12}$/.test(account))
    throw new ConfigurationError(`Cannot tell the account from ${context.invokedFunctionArn}`);
  return account;
}
