import {
  ChatCommandError,
  closestCommand,
  parseChatCommand,
  parseSlashCommandForm,
  tokenize,
} from '../../functions/lib/chatops/command.js';
import { ValidationError } from '../../functions/lib/errors.js';

function errorOf(text: string): ChatCommandError {
  try {
    parseChatCommand(text);
  } catch (e) {
    if (e instanceof ChatCommandError) return e;
    throw e;
  }
  throw new Error(`"${text}" parsed without error`);
}

const form = {
  command: '/ami',
  text: 'bake web --regions us-west-2',
  user_id: 'U0123ABCD',
  user_name: 'alice',
  channel_id: 'C0123ABCD',
  channel_name: 'platform',
  team_id: 'T0123ABCD',
  response_url: 'https://hooks.slack.com/commands/T0123ABCD/1/abc',
  trigger_id: '13345224609.738474920.8088930838d88f008e0',
  api_app_id: 'A0123',
};

describe('slash command form', () => {
  it('does parse every field when Slack posts the form', () => {
    // Prepare
    const body = new URLSearchParams(form).toString();
    // Act
    const cmd = parseSlashCommandForm(body);
    // Assess
    expect(cmd).toEqual({
      command: '/ami',
      text: 'bake web --regions us-west-2',
      user_id: 'U0123ABCD',
      user_name: 'alice',
      channel_id: 'C0123ABCD',
      channel_name: 'platform',
      team_id: 'T0123ABCD',
      response_url: 'https://hooks.slack.com/commands/T0123ABCD/1/abc',
      trigger_id: '13345224609.738474920.8088930838d88f008e0',
    });
  });

  it('does default text to empty when Slack omits it', () => {
    const rest: Record<string, string> = { ...form };
    delete rest.text;
    expect(parseSlashCommandForm(new URLSearchParams(rest).toString()).text).toBe('');
  });

  it('does throw a ValidationError naming the fields when required ones are missing or bad', () => {
    const body = new URLSearchParams({ ...form, user_id: 'alice', response_url: 'not a url' }).toString();
    expect(() => parseSlashCommandForm(body)).toThrow(ValidationError);
    expect(() => parseSlashCommandForm(body)).toThrow(/user_id.*response_url|response_url.*user_id/);
    expect(() => parseSlashCommandForm('command=%2Fami')).toThrow(/team_id/);
  });
});

describe('tokenize', () => {
  it('does group quoted words when the text has straight or curly quotes', () => {
    expect(tokenize(`a "b c"  'd e' “f g” ‘h’ i`)).toEqual(['a', 'b c', 'd e', 'f g', 'h', 'i']);
  });

  it('does keep an empty quoted token and glue quotes to adjacent text', () => {
    expect(tokenize(`x "" --regions="us-east-1,us-west-2"`)).toEqual(['x', '', '--regions=us-east-1,us-west-2']);
  });

  it('does throw ChatCommandError when a quote is not closed', () => {
    expect(() => tokenize('bake "web')).toThrow(/Unterminated quote/);
  });
});

describe('parseChatCommand', () => {
  it('does return help when the text is empty or help', () => {
    expect(parseChatCommand('')).toEqual({ kind: 'help' });
    expect(parseChatCommand('   ')).toEqual({ kind: 'help' });
    expect(parseChatCommand('help')).toEqual({ kind: 'help' });
    expect(parseChatCommand('HELP bake')).toEqual({ kind: 'help', topic: 'bake' });
  });

  it('does parse bake when given only a family', () => {
    expect(parseChatCommand('bake web')).toEqual({ kind: 'bake', family: 'web' });
  });

  it('does parse bake regions and reboot flags when given in either form', () => {
    expect(parseChatCommand('bake web --regions us-west-2,eu-west-1 --no-reboot')).toEqual({
      kind: 'bake',
      family: 'web',
      regions: ['us-west-2', 'eu-west-1'],
      reboot: false,
    });
    expect(parseChatCommand('bake --reboot web --regions=us-west-2')).toEqual({
      kind: 'bake',
      family: 'web',
      regions: ['us-west-2'],
      reboot: true,
    });
    expect(parseChatCommand('bake web —no-reboot')).toEqual({ kind: 'bake', family: 'web', reboot: false });
  });

  it('does refuse bake when the arguments are wrong', () => {
    expect(errorOf('bake').message).toMatch(/needs a family/);
    expect(errorOf('bake web --reboot --no-reboot').message).toMatch(/either --reboot or --no-reboot/);
    expect(errorOf('bake web --regions').message).toMatch(/--regions needs a value/);
    expect(errorOf('bake web --regions --reboot').message).toMatch(/--regions needs a value/);
    expect(errorOf('bake web --regions mars-1').message).toMatch(/Region "mars-1"/);
    expect(errorOf('bake web --regions us-west-2,us-west-2').message).toMatch(/twice/);
    expect(errorOf('bake web --regions ,').message).toMatch(/at least one region/);
    expect(errorOf('bake web extra').message).toMatch(/does not take "extra"/);
    expect(errorOf('bake Web_1').message).toMatch(/Family "Web_1"/);
    expect(errorOf('bake web --force').message).toMatch(/no option --force/);
    expect(errorOf('bake web --reboot --reboot').message).toMatch(/given twice/);
    expect(errorOf('bake web --reboot=yes').message).toMatch(/no option --reboot/);
    expect(errorOf('bake').usage).toBe('bake <family> [--regions a,b] [--reboot|--no-reboot]');
  });

  it('does parse status with and without a build id', () => {
    expect(parseChatCommand('status')).toEqual({ kind: 'status' });
    expect(parseChatCommand('status 0a1b2c3d-1111-2222')).toEqual({ kind: 'status', buildId: '0a1b2c3d-1111-2222' });
    expect(errorOf('status x').message).toMatch(/Build id "x"/);
    expect(errorOf('status a1234567 b1234567').message).toMatch(/does not take/);
  });

  it('does parse list with an optional region', () => {
    expect(parseChatCommand('list web')).toEqual({ kind: 'list', family: 'web' });
    expect(parseChatCommand('list web --region eu-west-1')).toEqual({ kind: 'list', family: 'web', region: 'eu-west-1' });
    expect(errorOf('list').message).toMatch(/needs a family/);
    expect(errorOf('list web --region moon').message).toMatch(/Region "moon"/);
    expect(errorOf('list web --regions us-east-1').message).toMatch(/no option --regions \(options: --region\)/);
  });

  it('does parse expire as a dry run unless --apply is given', () => {
    expect(parseChatCommand('expire web')).toEqual({ kind: 'expire', family: 'web', apply: false });
    expect(parseChatCommand('expire web --apply')).toEqual({ kind: 'expire', family: 'web', apply: true });
    expect(errorOf('expire').message).toMatch(/needs a family/);
    expect(errorOf('expire web --apply=true').message).toMatch(/no option --apply/);
  });

  it('does parse share with an image id and a 12-digit account', () => {
    expect(parseChatCommand('share ami-0123456789abcdef0 --account 123456789012')).toEqual({
      kind: 'share',
      imageId: 'ami-0123456789abcdef0',
      account: '123456789012',
    });
    expect(parseChatCommand('share --account=123456789012 ami-0123456789abcdef0').kind).toBe('share');
  });

  it('does parse share with an organization or an OU', () => {
    expect(
      parseChatCommand('share ami-0123456789abcdef0 --organization arn:aws:organizations::111122223333:organization/o-exampleorgid'),
    ).toEqual({
      kind: 'share',
      imageId: 'ami-0123456789abcdef0',
      organizationArn: 'arn:aws:organizations::111122223333:organization/o-exampleorgid',
    });
    expect(
      parseChatCommand('share ami-0123456789abcdef0 --ou arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-cd34ef56'),
    ).toEqual({
      kind: 'share',
      imageId: 'ami-0123456789abcdef0',
      organizationalUnitArn: 'arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-cd34ef56',
    });
    expect(errorOf('share ami-0123456789abcdef0 --organization o-exampleorgid').message).toMatch(
      /Organization "o-exampleorgid" must be an organization ARN/,
    );
    expect(errorOf('share ami-0123456789abcdef0 --ou ou-ab12-cd34ef56').message).toMatch(/OU "ou-ab12-cd34ef56" must be an OU ARN/);
    expect(
      errorOf(
        'share ami-0123456789abcdef0 --account 123456789012 --ou arn:aws:organizations::111122223333:ou/o-exampleorgid/ou-ab12-cd34ef56',
      ).message,
    ).toMatch(/takes one of --account, --organization or --ou/);
  });

  it('does refuse share when the image or account is missing or malformed', () => {
    expect(errorOf('share ami-0123456789abcdef0').message).toMatch(/needs --account/);
    expect(errorOf('share --account 123456789012').message).toMatch(/needs an image id/);
    expect(errorOf('share ami-0123456789abcdef0 --account 1234').message).toMatch(/Account "1234" must be a 12-digit/);
    expect(errorOf('share img-1 --account 123456789012').message).toMatch(/Image id "img-1"/);
    expect(errorOf('share ami-0123456789abcdef0 --account 123456789012 --account 210987654321').message).toMatch(/twice/);
  });

  it('does parse promote with a build id or an image id and a channel', () => {
    expect(parseChatCommand('promote web 3f2a1b2c-0000-4000-8000-000000000001 stable')).toEqual({
      kind: 'promote',
      family: 'web',
      target: '3f2a1b2c-0000-4000-8000-000000000001',
      channel: 'stable',
    });
    expect(parseChatCommand('promote web ami-0123456789abcdef0 stable')).toMatchObject({ target: 'ami-0123456789abcdef0' });
  });

  it('does refuse promote when an argument is missing or malformed', () => {
    expect(errorOf('promote web ami-0123456789abcdef0').message).toMatch(/needs a family, a build id or image id, and a channel/);
    expect(errorOf('promote web ami-xyz stable').message).toMatch(/Image id/);
    expect(errorOf('promote web ami-0123456789abcdef0 Stable/1').message).toMatch(/Channel/);
  });

  it('does suggest the closest command when the command is unknown', () => {
    const e = errorOf('bkae web');
    expect(e).toBeInstanceOf(ChatCommandError);
    expect(e.name).toBe('ChatCommandError');
    expect(e.suggestion).toBe('bake');
    expect(e.message).toMatch(/Unknown command "bkae". Did you mean `bake`\?/);
    expect(e.usage).toBe('bake <family> [--regions a,b] [--reboot|--no-reboot]');
    expect(errorOf('stat').suggestion).toBe('status');
    expect(errorOf('help bakee').suggestion).toBe('bake');
  });

  it('does list the commands without a suggestion when nothing is close', () => {
    const e = errorOf('deploy-everything');
    expect(e.suggestion).toBeUndefined();
    expect(e.message).toMatch(/Commands: help, bake, status, list, expire, share/);
  });

  it('does make ChatCommandError a ValidationError when it is thrown', () => {
    expect(errorOf('nope')).toBeInstanceOf(ValidationError);
  });
});

describe('closestCommand', () => {
  it('does match a unique prefix or a near miss and nothing else', () => {
    expect(closestCommand('sh')).toBe('share');
    expect(closestCommand('lst')).toBe('list');
    expect(closestCommand('expier')).toBe('expire');
    expect(closestCommand('s')).toBeUndefined();
    expect(closestCommand('zzzzzz')).toBeUndefined();
  });
});
