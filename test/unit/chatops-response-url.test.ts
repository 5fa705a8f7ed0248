import { ResponseUrlNotAllowedError, checkResponseUrl } from '../../functions/lib/chatops/response-url.js';

describe('checkResponseUrl', () => {
  it("does accept Slack's response URLs", () => {
    expect(checkResponseUrl('https://hooks.slack.com/commands/T0123ABCD/1234/abcd').hostname).toBe('hooks.slack.com');
    expect(() => checkResponseUrl('https://HOOKS.slack.com/actions/T1/2/x')).not.toThrow();
    expect(() => checkResponseUrl('https://hooks.slack.com:443/commands/T1/2/x')).not.toThrow();
  });

  it.each([
    ['another host', 'https://evil.example/commands/T1/2/x'],
    ['a suffix on the host', 'https://hooks.slack.com.evil.example/commands/T1/2/x'],
    ['a prefix on the host', 'https://evilhooks.slack.com/commands/T1/2/x'],
    ['another slack host', 'https://api.slack.com/commands/T1/2/x'],
    ['a trailing dot', 'https://hooks.slack.com./commands/T1/2/x'],
    ['the host in the path', 'https://evil.example/hooks.slack.com/x'],
    ['the host in the query', 'https://evil.example/?u=https://hooks.slack.com/x'],
    ['the host as user info', 'https://hooks.slack.com@evil.example/x'],
    ['user info before the host', 'https://user:pw@hooks.slack.com/commands/T1/2/x'],
    ['plain http', 'http://hooks.slack.com/commands/T1/2/x'],
    ['another port', 'https://hooks.slack.com:8443/commands/T1/2/x'],
    ['loopback without the local allowance', 'http://127.0.0.1:4567/commands/1'],
    ['not a URL', 'hooks.slack.com/commands/T1/2/x'],
  ])('does refuse %s', (_label, url) => {
    expect(() => checkResponseUrl(url)).toThrow(ResponseUrlNotAllowedError);
    expect(() => checkResponseUrl(url)).toThrow("The response_url is not on Slack's host: only https://hooks.slack.com/… is accepted");
  });

  it('does accept the loopback receiver only where the local cloud allows it, and nothing else on top', () => {
    expect(checkResponseUrl('http://127.0.0.1:4567/commands/1', { allowLoopback: true }).port).toBe('4567');
    expect(() => checkResponseUrl('https://hooks.slack.com/commands/T1/2/x', { allowLoopback: true })).not.toThrow();
    expect(() => checkResponseUrl('http://127.0.0.2:4567/x', { allowLoopback: true })).toThrow(ResponseUrlNotAllowedError);
    expect(() => checkResponseUrl('http://evil.example/x', { allowLoopback: true })).toThrow(ResponseUrlNotAllowedError);
    expect(() => checkResponseUrl('http://u@127.0.0.1:4567/x', { allowLoopback: true })).toThrow(ResponseUrlNotAllowedError);
  });
});
