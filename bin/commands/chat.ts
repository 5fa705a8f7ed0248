import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { slackRequestHeaders } from '../../functions/lib/chatops/signature.js';
import { renderPlainText, type Block } from '../../functions/lib/chatops/replies.js';
import { LOCAL_SLACK_SIGNING_SECRET } from '../../local/function-url.js';
import { clock } from '../../functions/lib/clock.js';
import { printApprovalMessages, sendApprovalClick } from './_approvals.js';
import { connectForCommand, formatDuration, parseCommand, CLOUD_OPTIONS, CLOUD_OPTIONS_HELP, type CloudTarget } from './_common.js';

export const summary = 'Play Slack against the local cloud: ami-factory chat "/ami bake web"';

const HELP = `usage: ami-factory chat "/ami <command> [args]" [--user U…] [--channel C…] [--wait SECONDS]
       ami-factory chat --approvals [--channel C…]
       ami-factory chat --click approve|reject --as U… [--comment TEXT] <approval-id>

Signs the slash command with the local signing secret (${LOCAL_SLACK_SIGNING_SECRET}, or
AMI_FACTORY_SLACK_SIGNING_SECRET), posts it to the slackCommand function's URL on the local cloud, prints the
immediate reply, then waits for what the factory posts to the command's response_url (a
receiver on a loopback port) and prints it. After a bake it exits 0 when the build succeeded;
after an expire, when the plan (or with --apply, the retention run) succeeded.
  --user U…        Slack user id of the requester (default U0LOCAL)
  --channel C…     Slack channel id (default C0LOCAL)
  --wait SECONDS   how long to wait for the result of a bake or an expire (default 600)

Approvals: --approvals prints the approval requests the factory posted to the local Slack
stand-in (as text, with their buttons and earlier versions). --click sends a click on one, signed
like Slack's, to the function URL's /interactivity path, and prints the answer and the updated
message; it exits 1 when the click was refused (not an approver, two-person rule, already decided).
  --as U…          Slack user id of the clicker
  --comment TEXT   what the clicker typed in the request's comment field
${CLOUD_OPTIONS_HELP}`;

interface Message {
  text?: string;
  blocks?: Block[];
  response_type?: string;
}

const FINAL = /^Build of \S+ (succeeded|partially succeeded|failed)/;
/** The notifier's retention post (`expire`): the dry-run plan, or the result of an apply. */
const RETENTION_FINAL = /^Retention (?:plan for|of) \S+ (\(dry run\)|applied|partially succeeded|failed)/;

/** The first line of a final result post, and whether it is a success. */
function finalOf(text: string): { line: string; ok: boolean } | undefined {
  const build = FINAL.exec(text);
  if (build !== null) return { line: build[0], ok: build[1] === 'succeeded' };
  const retention = RETENTION_FINAL.exec(text);
  if (retention !== null) return { line: retention[0], ok: retention[1] === '(dry run)' || retention[1] === 'applied' };
  return undefined;
}

/**
 * The time the cloud's slack-command handler checks the signature's timestamp against: its
 * simulated clock (installed in this process when the cloud runs here, else from its stats).
 */
async function cloudNowMs(target: CloudTarget): Promise<number> {
  if (!target.reused) return clock().now();
  const r = await fetch(`${target.endpoint}/_local/stats`, { signal: AbortSignal.timeout(5000) });
  const t = Date.parse(((await r.json()) as { virtualTime?: string }).virtualTime ?? '');
  return Number.isNaN(t) ? clock().now() : t;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommand('chat', HELP, argv, {
    user: { type: 'string' },
    channel: { type: 'string' },
    wait: { type: 'string' },
    approvals: { type: 'boolean' },
    click: { type: 'string' },
    as: { type: 'string' },
    comment: { type: 'string' },
    ...CLOUD_OPTIONS,
    help: { type: 'boolean', short: 'h' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.approvals === true || values.click !== undefined) return approvals(values, positionals);
  const line = positionals.join(' ').trim();
  const m = /^(\/[\w-]+)\s*(.*)$/s.exec(line);
  if (m === null) {
    console.error(`ami-factory chat: give the slash command, e.g. "/ami bake web"\n\n${HELP}`);
    return 2;
  }
  const [, command = '/ami', text = ''] = m;
  const waitMs = Number(values.wait ?? '600') * 1000;
  const secret = process.env.AMI_FACTORY_SLACK_SIGNING_SECRET ?? LOCAL_SLACK_SIGNING_SECRET;

  const posts: Message[] = [];
  let notify: (() => void) | undefined;
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        posts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Message);
      } catch {
        posts.push({ text: Buffer.concat(chunks).toString('utf8') });
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      notify?.();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const responseUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/commands/${randomUUID()}`;

  const started = Date.now();
  const target = await connectForCommand('chat', values);
  if (typeof target === 'number') return target;
  try {
    const body = new URLSearchParams({
      token: 'local',
      team_id: 'T0LOCAL',
      team_domain: 'local',
      channel_id: values.channel ?? 'C0LOCAL',
      channel_name: 'local',
      user_id: values.user ?? 'U0LOCAL',
      user_name: process.env.USER ?? 'local',
      command,
      text,
      api_app_id: 'A0LOCAL',
      response_url: responseUrl,
      trigger_id: randomUUID(),
    }).toString();
    const url = target.stack.functionUrls.slackCommand;
    if (url === undefined) {
      console.error(`✗ the stack ${target.stack.stackName} has no function URL for slackCommand`);
      return 1;
    }
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackRequestHeaders(secret, body, await cloudNowMs(target)) },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const replyText = await r.text();
    if (r.status !== 200) {
      console.error(`✗ HTTP ${r.status}: ${replyText}`);
      return 1;
    }
    const reply = JSON.parse(replyText) as Message;
    console.log(`${reply.response_type === 'in_channel' ? '[in channel]' : '[only you]'} ${renderPlainText(reply)}`);
    const first = reply.blocks?.[0];
    const refused = first?.type === 'section' && /^(:warning:|:no_entry:)/.test(first.text.text);
    if (refused || !/^\s*(bake|expire)\b/i.test(text)) return refused ? 1 : 0;

    // A bake or an expire: wait (bounded) for the result the notifier posts to the response_url.
    const deadline = Date.now() + waitMs;
    let shown = 0;
    for (;;) {
      for (const p of posts.slice(shown)) console.log(`\n[response_url] ${renderPlainText(p)}`);
      shown = posts.length;
      const final = posts.map((p) => finalOf(p.text ?? '')).find((x) => x !== undefined);
      if (final) {
        console.log(`\n${final.ok ? '✓' : '✗'} ${final.line} in ${formatDuration(Date.now() - started)}`);
        return final.ok ? 0 : 1;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        console.error(`\n✗ no result posted within ${formatDuration(waitMs)}`);
        return 1;
      }
      await new Promise<void>((resolveWait) => {
        const t = setTimeout(resolveWait, Math.min(left, 1000));
        notify = () => {
          clearTimeout(t);
          resolveWait();
        };
      });
    }
  } catch (e) {
    console.error(`✗ ami-factory chat: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    receiver.close();
    receiver.closeAllConnections();
    await target.close();
  }
}

/** `--approvals` and `--click`: the approvals side (./_approvals.ts). */
async function approvals(
  values: {
    approvals?: boolean;
    click?: string;
    as?: string;
    comment?: string;
    channel?: string;
    endpoint?: string;
    port?: string;
    'state-dir'?: string;
  },
  positionals: string[],
): Promise<number> {
  const decision = values.click;
  if (decision !== undefined && decision !== 'approve' && decision !== 'reject') {
    console.error(`ami-factory chat: --click takes approve or reject, not ${decision}\n\n${HELP}`);
    return 2;
  }
  const approvalId = positionals[0];
  if (decision !== undefined && (values.as === undefined || approvalId === undefined || positionals.length !== 1)) {
    console.error(`ami-factory chat: --click needs --as U… and one approval id\n\n${HELP}`);
    return 2;
  }
  const target = await connectForCommand('chat', values);
  if (typeof target === 'number') return target;
  try {
    if (decision === undefined || approvalId === undefined || values.as === undefined)
      return await printApprovalMessages(target, values.channel);
    return await sendApprovalClick(target, {
      approvalId,
      decision,
      userId: values.as,
      ...(values.comment !== undefined ? { comment: values.comment } : {}),
      ...(values.channel !== undefined ? { channel: values.channel } : {}),
      secret: process.env.AMI_FACTORY_SLACK_SIGNING_SECRET ?? LOCAL_SLACK_SIGNING_SECRET,
      nowMs: await cloudNowMs(target),
    });
  } catch (e) {
    console.error(`✗ ami-factory chat: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  } finally {
    await target.close();
  }
}
