import { ChatCommandError, parseChatCommand } from '../../functions/lib/chatops/command.js';
import {
  SLACK_LIMITS,
  bakeAcknowledgedReply,
  buildReportReply,
  deniedReply,
  errorReply,
  escapeMrkdwn,
  helpReply,
  imageListReply,
  packLines,
  type Block,
  type SlackMessage,
} from '../../functions/lib/chatops/replies.js';
import { ImageFailedError, ValidationError } from '../../functions/lib/errors.js';

function texts(m: SlackMessage): string[] {
  return m.blocks.flatMap((b: Block) => {
    if (b.type === 'section' || b.type === 'header') return [b.text.text];
    if (b.type === 'context') return b.elements.map((e) => e.text);
    return [];
  });
}

function assertWithinLimits(m: SlackMessage): void {
  expect(m.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  expect(m.text.length).toBeGreaterThan(0);
  expect(m.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
  for (const b of m.blocks) {
    if (b.type === 'section') expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
  }
}

describe('Slack replies', () => {
  it('does list every command ephemerally when help is asked', () => {
    // Act
    const m = helpReply('/ami');
    // Assess
    expect(m.response_type).toBe('ephemeral');
    const all = texts(m).join('\n');
    for (const c of ['bake <family>', 'status [build-id]', 'list <family>', 'expire <family> [--apply]', 'share <ami-id> --account']) {
      expect(all).toContain(c);
    }
    expect(m.text).toContain('/ami bake <family>');
    expect(m.text).not.toContain('`');
    assertWithinLimits(m);
  });

  it('does show only one command when help has a topic', () => {
    const m = helpReply('/ami', 'share');
    expect(texts(m).join('\n')).toContain('share <ami-id>');
    expect(texts(m).join('\n')).not.toContain('bake');
  });

  it('does acknowledge a bake in channel with family, regions, build id and execution', () => {
    // Act
    const m = bakeAcknowledgedReply({
      family: 'web',
      regions: ['us-east-1', 'us-west-2'],
      buildId: '0a1b2c3d-1111',
      executionName: 'web-0a1b2c3d-1111',
      requestedBy: 'U0ALICE',
      reboot: false,
    });
    // Assess
    expect(m.response_type).toBe('in_channel');
    const all = texts(m).join('\n');
    expect(all).toContain('<@U0ALICE> started a build of *web* (no reboot, crash-consistent) → us-east-1, us-west-2');
    expect(all).toContain('`0a1b2c3d-1111`');
    expect(all).toContain('`web-0a1b2c3d-1111`');
    expect(m.text).toContain('Build 0a1b2c3d-1111, execution web-0a1b2c3d-1111');
    assertWithinLimits(m);
  });

  it('does report image ids per region and failures with reasons when a build partially succeeds', () => {
    // Act
    const m = buildReportReply({
      outcome: 'BuildPartiallySucceeded',
      buildId: 'b1234567-aaaa',
      family: 'web',
      imageName: 'web-20261123T0700Z-b1234567',
      regions: [
        { region: 'us-east-1', status: 'succeeded', imageId: 'ami-0123456789abcdef0' },
        { region: 'us-west-2', status: 'succeeded', imageId: 'ami-0123456789abcdef1' },
        {
          region: 'eu-west-1',
          status: 'failed',
          imageId: null,
          error: 'ImageFailedError',
          cause: 'KMS key <alias/x> disabled\n  at copy (copy.ts:1)',
        },
      ],
    });
    // Assess
    const all = texts(m).join('\n');
    expect(all).toContain(':warning: *Build of web partially succeeded*');
    expect(all).toContain(':white_check_mark: us-east-1 `ami-0123456789abcdef0`');
    expect(all).toContain(':x: eu-west-1 — ImageFailedError: KMS key &lt;alias/x&gt; disabled');
    expect(all).not.toContain('copy.ts');
    expect(m.text).toContain('failed: eu-west-1 — ImageFailedError: KMS key <alias/x> disabled');
    expect(m.response_type).toBe('in_channel');
    assertWithinLimits(m);
  });

  it('does show progress when the outcome is not final yet', () => {
    const m = buildReportReply({
      outcome: 'Running',
      buildId: 'b1234567-aaaa',
      family: 'web',
      regions: [{ region: 'us-west-2', status: 'pending' }],
    });
    expect(texts(m).join('\n')).toContain(':hourglass_flowing_sand: *Build of web in progress*');
    expect(texts(m).join('\n')).toContain('us-west-2 pending');
  });

  it('does show a command error with its usage when a command is mistyped', () => {
    // Prepare
    let error: unknown;
    try {
      parseChatCommand('bkae web');
    } catch (e) {
      error = e;
    }
    // Act
    const m = errorReply(error);
    // Assess
    expect(error).toBeInstanceOf(ChatCommandError);
    expect(m.response_type).toBe('ephemeral');
    expect(texts(m).join('\n')).toContain('Did you mean `bake`?');
    expect(texts(m).join('\n')).toContain('Usage: `bake &lt;family&gt;');
  });

  it('does show factory error messages but never a stack trace', () => {
    // Prepare
    const e = new ImageFailedError('Image ami-1 failed: Client.InvalidKMSKey\n    at something (file.ts:1:1)');
    // Act
    const m = errorReply(e, 'b1234567');
    // Assess
    const all = `${texts(m).join('\n')}\n${m.text}`;
    expect(all).toContain('Image ami-1 failed: Client.InvalidKMSKey');
    expect(all).toContain('reference `b1234567`');
    expect(all).not.toMatch(/file\.ts|\bat something/);
  });

  it('does hide the message of unexpected errors when they are not the factory own', () => {
    // Prepare
    const e = Object.assign(new Error('secret-internal-host:5432 refused; token=abc'), { name: 'AccessDeniedException' });
    // Act
    const m = errorReply(e);
    // Assess
    const all = `${texts(m).join('\n')}\n${m.text}`;
    expect(all).toContain('Something went wrong (AccessDeniedException)');
    expect(all).not.toContain('secret-internal-host');
    expect(errorReply('a string').text).toContain('an unexpected error');
  });

  it('does show a validation error first line when the config refuses an override', () => {
    const m = errorReply(new ValidationError('Family web does not copy to ap-south-1'));
    expect(m.text).toBe('Family web does not copy to ap-south-1');
  });

  it('does make an ephemeral denial when a command is refused', () => {
    const m = deniedReply('`share` is not enabled for web');
    expect(m.response_type).toBe('ephemeral');
    expect(texts(m)[0]).toBe(':no_entry: `share` is not enabled for web');
  });

  it('does list images with region, age, state and deprecation', () => {
    const m = imageListReply(
      'web',
      [
        { imageId: 'ami-0123456789abcdef0', region: 'us-east-1', name: 'web-a', ageDays: 3.7, state: 'available' },
        {
          imageId: 'ami-0123456789abcdef1',
          region: 'us-east-1',
          name: 'web-b',
          ageDays: 200,
          state: 'disabled',
          deprecationTime: '2026-06-01T00:00:00Z',
        },
      ],
      'us-east-1',
    );
    const all = texts(m).join('\n');
    expect(all).toContain('*2 images of web in us-east-1*');
    expect(all).toContain('ami-0123456789abcdef0  us-east-1  3d    available  web-a');
    expect(all).toContain('deprecated 2026-06-01');
    expect(imageListReply('web', []).blocks).toHaveLength(1);
    assertWithinLimits(m);
  });

  it('does escape control characters when text comes from EC2 or users', () => {
    expect(escapeMrkdwn('<!channel> & <@U1>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt;');
  });

  it('does pack lines into sections no longer than the limit when lines are long', () => {
    // Act
    const blocks = packLines(
      Array.from({ length: 10 }, () => 'x'.repeat(2000)),
      5,
    );
    // Assess
    expect(blocks).toHaveLength(5);
    expect(blocks[4]).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: '…and 6 more' }] });
    expect(packLines([], 5)).toEqual([]);
    expect(packLines(['a', 'b'], 5)).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: 'a\nb' } }]);
  });
});
