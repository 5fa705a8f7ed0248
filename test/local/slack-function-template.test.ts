import { ensurePackaged } from '../../local/template/package.js';

/** The Slack function of the packaged template, as CloudFormation (and the local cloud) deploys it. */
describe('the packaged Slack function', () => {
  it('does reserve the concurrency of the stage parameter slackReservedConcurrency (default 10)', async () => {
    const pkg = await ensurePackaged({ projectRoot: process.cwd() });
    const fn = pkg.template.Resources.SlackCommandLambdaFunction as { Properties?: Record<string, unknown> } | undefined;
    expect(fn?.Properties?.ReservedConcurrentExecutions).toBe(10);
    // The loopback allowance for response URLs is the local cloud's alone, never the template's.
    expect(JSON.stringify(pkg.template)).not.toContain('AMI_FACTORY_SLACK_LOOPBACK_RESPONSE_URLS');
    // Nor is the Web API's base URL: a deployed function sends its bot token to slack.com only.
    expect(JSON.stringify(pkg.template)).not.toContain('AMI_FACTORY_SLACK_API_URL');
  });
});
