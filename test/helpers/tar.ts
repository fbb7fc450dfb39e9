// A tar writer for tests and fixture scripts: ustar headers, GNU or pax long names. What npm pack writes,
// as far as readers of package.json files care.
function header(name: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(size.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write(type, 156);
  h.write('ustar\0' + '00', 257, 'latin1');
  h.write('        ', 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

const padded = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

/** A tar archive of these files; paths over 100 bytes get a GNU `L` or a pax `x` header. */
export function tarOf(files: [string, string][], long: 'gnu' | 'pax' = 'gnu'): Buffer {
  const parts: Buffer[] = [];
  for (const [path, text] of files) {
    const body = Buffer.from(text);
    if (Buffer.byteLength(path) > 100) {
      if (long === 'gnu') {
        const name = Buffer.from(path + '\0');
        parts.push(header('././@LongLink', name.length, 'L'), padded(name));
      } else {
        const record = ` path=${path}\n`;
        let len = record.length;
        while (String(len).length + record.length !== len) len = String(len).length + record.length;
        const pax = Buffer.from(`${len}${record}`);
        parts.push(header('PaxHeader', pax.length, 'x'), padded(pax));
      }
    }
    parts.push(header(path, body.length, '0'), padded(body));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
