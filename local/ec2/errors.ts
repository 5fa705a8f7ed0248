import { LocalApiError } from '../http.js';

/**
 * An EC2 API error: the Query protocol answers `<Response><Errors><Error><Code>` and the SDK
 * raises an error whose `name` is the code. `status` is the HTTP status (4xx client, 503 throttling).
 */
export class Ec2ApiError extends LocalApiError {}

export const missing = (param: string): Ec2ApiError =>
  new Ec2ApiError('MissingParameter', `The request must contain the parameter ${param}`);

export const invalidValue = (message: string): Ec2ApiError => new Ec2ApiError('InvalidParameterValue', message);

export const invalidCombination = (message: string): Ec2ApiError => new Ec2ApiError('InvalidParameterCombination', message);
