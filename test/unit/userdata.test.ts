import { builderScript, DEFAULT_SANITIZE_SCRIPT } from '../../functions/lib/userdata.js';
import { builderState } from '../../functions/lib/ec2/builder.js';

describe('builderScript', () => {
  it('runs the family script, then the sanitize step, then stops the instance', () => {
    const s = builderScript({ userData: '#!/bin/sh\necho build\n', sanitize: true, doneSignal: 'stopped' });
    const build = s.indexOf('echo build');
    const sanitize = s.indexOf('ami-factory sanitize');
    const stop = s.indexOf('shutdown -h now');
    expect(s.startsWith('#!/bin/bash\n')).toBe(true);
    expect(s).not.toContain('#!/bin/sh');
    expect(build).toBeGreaterThan(0);
    expect(sanitize).toBeGreaterThan(build);
    expect(stop).toBeGreaterThan(sanitize);
  });

  it('covers the sharing guidelines in the default sanitize step', () => {
    for (const needle of [
      'ssh_host_',
      'authorized_keys',
      'PermitRootLogin',
      'PasswordAuthentication no',
      'passwd -l root',
      'history',
      'cloud-init clean',
      'UseDNS no',
    ]) {
      expect(DEFAULT_SANITIZE_SCRIPT).toContain(needle);
    }
  });

  it('uses a replacement sanitize script, or none, and the tag signal', () => {
    const custom = builderScript({ userData: 'x', sanitize: true, sanitizeScript: '# mine', doneSignal: 'tag' });
    expect(custom).toContain('# mine');
    expect(custom).not.toContain('ssh_host_');
    expect(custom).toContain('ami-factory:build-status,Value=done');
    expect(custom).not.toContain('shutdown');
    expect(builderScript({ userData: 'x', sanitize: false, doneSignal: 'stopped' })).not.toContain('sanitize');
  });
});

describe('builderState', () => {
  const inst = (state: 'running' | 'stopped' | 'terminated', tag?: string) => ({
    InstanceId: 'i-1',
    State: { Name: state },
    Tags: tag === undefined ? [] : [{ Key: 'ami-factory:build-status', Value: tag }],
  });

  it('is done when the builder stopped itself (stop signal) or tagged done (tag signal)', () => {
    expect(builderState(inst('stopped'), 'stopped').state).toBe('done');
    expect(builderState(inst('running'), 'stopped').state).toBe('building');
    expect(builderState(inst('stopped'), 'tag').state).toBe('building');
    expect(builderState(inst('running', 'done'), 'tag').state).toBe('done');
  });

  it('fails when the builder is gone, terminated or reports failure', () => {
    expect(builderState(undefined, 'stopped')).toMatchObject({ state: 'failed' });
    expect(builderState(inst('terminated'), 'stopped')).toMatchObject({ state: 'failed', reason: expect.stringContaining('terminated') });
    expect(builderState(inst('running', 'failed'), 'stopped').state).toBe('failed');
  });
});
