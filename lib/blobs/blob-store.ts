import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

// Where artifact files live. Keys are relative paths like
// `<projectId>/<runId>/<artifactId>.png`; a run's files share its prefix, so
// deleting a run deletes one prefix. `put` resolves only once the file is
// durable (written, fsynced, renamed into place, directory fsynced).
// The local directory is the default; an S3-compatible store can implement the
// same interface later.
export interface BlobStore {
  put(key: string, stream: Readable): Promise<{ size: number; sha256: string }>;
  get(key: string): Promise<{ stream: Readable; size: number } | null>;
  move(from: string, to: string): Promise<void>;
  delete(key: string): Promise<void>;
  deletePrefix(prefix: string): Promise<void>;
}

const KEY = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$/;
export const isBlobKey = (key: string) => key.length <= 500 && KEY.test(key) && !key.split('/').includes('..');

export class LocalBlobStore implements BlobStore {
  readonly root: string;

  private tmpDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.tmpDir = join(this.root, '.tmp');
  }

  private path(key: string): string {
    if (!isBlobKey(key)) throw new TypeError(`not a blob key: ${key}`);
    return join(this.root, key);
  }

  async put(key: string, stream: Readable): Promise<{ size: number; sha256: string }> {
    const target = this.path(key);
    // Synchronously, so the stream is consumed from this call on: one that
    // errors meanwhile must not find nobody listening.
    mkdirSync(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, randomUUID());
    const hash = createHash('sha256');
    let size = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(stream, measure, createWriteStream(tmp, { flags: 'wx' }));
      await fsync(tmp);
      await mkdir(dirname(target), { recursive: true });
      await rename(tmp, target);
      await fsync(dirname(target));
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    return { size, sha256: hash.digest('hex') };
  }

  async get(key: string): Promise<{ stream: Readable; size: number } | null> {
    const p = this.path(key);
    try {
      const s = await stat(p);
      if (!s.isFile()) return null;
      return { stream: createReadStream(p), size: s.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async move(from: string, to: string): Promise<void> {
    const target = this.path(to);
    await mkdir(dirname(target), { recursive: true });
    await rename(this.path(from), target);
    await fsync(dirname(target));
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    const dir = prefix.replace(/\/+$/, '');
    await rm(this.path(dir), { recursive: true, force: true });
  }

  // Files left under a prefix by uploads that died half-way (staging, .tmp).
  async sweep(prefix: string, olderThanMs: number): Promise<number> {
    let removed = 0;
    for (const dir of [this.path(prefix), this.tmpDir]) {
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        const p = join(dir, name);
        const s = await stat(p).catch(() => null);
        if (s?.isFile() && Date.now() - s.mtimeMs > olderThanMs) {
          await rm(p, { force: true });
          removed++;
        }
      }
    }
    return removed;
  }
}

async function fsync(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
