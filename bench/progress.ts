/** One progress line: redrawn in place on a terminal, printed every few seconds into a log. */
const tty = Boolean(process.stderr.isTTY);
const LOG_EVERY_MS = 5000;

let lastLogged = 0;
let shown = "";

export function progress(text: string): void {
  if (tty) {
    const line = text.length > 160 ? text.slice(0, 160) : text;
    process.stderr.write(`\r${line}${" ".repeat(Math.max(0, shown.length - line.length))}`);
    shown = line;
    return;
  }
  const now = Date.now();
  if (now - lastLogged < LOG_EVERY_MS) return;
  lastLogged = now;
  process.stderr.write(`${text}\n`);
}

/** A line that stays: ends the redrawn one first. */
export function note(text: string): void {
  if (tty && shown) process.stderr.write(`\r${" ".repeat(shown.length)}\r`);
  shown = "";
  lastLogged = 0;
  process.stderr.write(`${text}\n`);
}
