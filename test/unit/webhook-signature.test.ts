import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sign, verify } from '../../domain/webhooks/signature.ts';
import { isPublicAddress, isMetadataAddress, resolveTarget } from '../../domain/webhooks/targets.ts';

describe('webhook signatures', () => {
  it('match openssl (an independent HMAC-SHA256 of "<t>.<body>")', () => {
    const body = '{"id":"evt_1","event":"run.completed","data":{"é":1}}';
    const header = sign('whsec_abc', body, 1_700_000_000);
    const openssl = spawnSync('sh', ['-c', 'printf "%s" "$1.$2" | openssl dgst -sha256 -hmac "$3" -r | cut -d" " -f1', 'sh', '1700000000', body, 'whsec_abc'], { encoding: 'utf8' });
    expect(openssl.status).toBe(0);
    expect(header).toBe(`t=1700000000,v1=${openssl.stdout.trim()}`);
  });

  it('verify accepts its own signature and refuses another body, secret or an old timestamp', () => {
    const h = sign('whsec_abc', 'body', 1000);
    expect(verify('whsec_abc', 'body', h, 1000)).toBe(true);
    expect(verify('whsec_abc', 'body!', h, 1000)).toBe(false);
    expect(verify('whsec_abd', 'body', h, 1000)).toBe(false);
    expect(verify('whsec_abc', 'body', h, 1000 + 301)).toBe(false);
    expect(verify('whsec_abc', 'body', 'garbage', 1000)).toBe(false);
  });
});

describe('public addresses', () => {
  it.each(['127.0.0.1', '10.0.0.1', '172.31.255.255', '192.168.0.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd00:ec2::254', '::ffff:10.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:a9fe:a9fe', '2001:db8::1', 'not an ip'])('%s is not public', (a) => {
    expect(isPublicAddress(a)).toBe(false);
  });
  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '::ffff:8.8.8.8', '2606:4700:4700::1111'])('%s is public', (a) => {
    expect(isPublicAddress(a)).toBe(true);
  });
});

describe('cloud metadata addresses (refused even with RUNLEDGER_WEBHOOK_ALLOW_PRIVATE=1)', () => {
  it.each(['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '100.100.100.200', '192.0.0.192', '::ffff:169.254.169.254', '0:0:0:0:0:ffff:a9fe:a9fe', '::ffff:6464:64c8'])('%s is a metadata address', (a) => {
    expect(isMetadataAddress(a)).toBe(true);
  });
  it.each(['127.0.0.1', '10.0.0.1', '100.100.100.201', '8.8.8.8', '::1'])('%s is not', (a) => {
    expect(isMetadataAddress(a)).toBe(false);
  });
  it.each(['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/', 'http://100.100.100.200/', 'http://[::ffff:169.254.169.254]/'])('resolveTarget refuses %s with allowPrivate', async (url) => {
    await expect(resolveTarget(new URL(url), true)).rejects.toMatchObject({ reason: 'metadata_address' });
  });
  it('resolveTarget still allows loopback with allowPrivate', async () => {
    await expect(resolveTarget(new URL('http://127.0.0.1:9/'), true)).resolves.toMatchObject({ address: '127.0.0.1' });
  });
});
