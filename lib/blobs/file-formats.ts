// A file's format from its first bytes (its "magic"), never from its name.
export type FileFormat = { name: string; mimeType: string; ext: string };

export const SNIFF_BYTES = 16;

const at = (head: Buffer, offset: number, ascii: string) => head.subarray(offset, offset + ascii.length).toString('latin1') === ascii;
const startsWith = (head: Buffer, bytes: number[]) => bytes.every((b, i) => head[i] === b);
const MOV_ATOMS = ['moov', 'mdat', 'wide', 'free', 'skip', 'pnot'];

export function sniff(head: Buffer): FileFormat | null {
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { name: 'png', mimeType: 'image/png', ext: 'png' };
  if (startsWith(head, [0xff, 0xd8, 0xff])) return { name: 'jpeg', mimeType: 'image/jpeg', ext: 'jpg' };
  if (at(head, 0, 'GIF87a') || at(head, 0, 'GIF89a')) return { name: 'gif', mimeType: 'image/gif', ext: 'gif' };
  if (at(head, 0, 'RIFF') && at(head, 8, 'WEBP')) return { name: 'webp', mimeType: 'image/webp', ext: 'webp' };
  if (at(head, 0, 'RIFF') && at(head, 8, 'AVI ')) return { name: 'avi', mimeType: 'video/x-msvideo', ext: 'avi' };
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) return { name: 'webm', mimeType: 'video/webm', ext: 'webm' };
  if (at(head, 4, 'ftyp')) {
    return at(head, 8, 'qt  ') ? { name: 'mov', mimeType: 'video/quicktime', ext: 'mov' } : { name: 'mp4', mimeType: 'video/mp4', ext: 'mp4' };
  }
  if (MOV_ATOMS.some((a) => at(head, 4, a))) return { name: 'mov', mimeType: 'video/quicktime', ext: 'mov' };
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) return { name: 'zip', mimeType: 'application/zip', ext: 'zip' };
  return null;
}

export const MIME_BY_EXT: Record<string, string> = {
  png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', avi: 'video/x-msvideo',
  webm: 'video/webm', mov: 'video/quicktime', mp4: 'video/mp4', zip: 'application/zip',
};
