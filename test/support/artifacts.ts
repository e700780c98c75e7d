import { deflateRawSync } from 'node:zlib';

// Small files that are what they claim to be, by their first bytes.
export const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('rest of a png image')]);
export const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('JFIF and the rest of it')]);
export const WEBM = Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.from('webm matroska payload')]);
export const MP4 = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypmp42 and the movie')]);
export const ZIP = Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), deflateRawSync(Buffer.from('trace.json contents, more or less'))]);

// A file of `bytes` bytes that starts like `head`.
export const sized = (head: Buffer, bytes: number) => Buffer.concat([head, Buffer.alloc(Math.max(0, bytes - head.length), 0x61)]);

// A multipart form in the order given; a Buffer value is the file.
export function form(fields: Array<[string, string | Buffer]>, fileName = 'screenshot.png'): FormData {
  const fd = new FormData();
  for (const [k, v] of fields) {
    if (typeof v === 'string') fd.append(k, v);
    else fd.append(k, new Blob([new Uint8Array(v)]), fileName);
  }
  return fd;
}
