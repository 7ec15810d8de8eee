// A blocking PostgreSQL session for one VU thread: the PostgreSQL protocol (pg-protocol's serializer
// and parser, node-postgres's value and type conversions) over a socket the SQL host connected and
// authenticated, then switched to blocking mode and handed over by file descriptor. fs.writeSync and
// fs.readSync on it block this thread in the kernel exactly as a Go VU blocks in lib/pq: no thread
// hand-off per statement, no polling.
//
// Like lib/pq, a read waits as long as the server takes: a VU whose server is frozen (SIGSTOP) waits
// until it resumes, and cannot be interrupted meanwhile.
import { readSync, writeSync } from 'node:fs';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import utils from 'pg/lib/utils.js';

const INT8 = 20;
const parsers = new Map();
function typeParser(oid) {
  let p = parsers.get(oid);
  if (!p) {
    // lib/pq scans bigint into int64, which k6 hands to JavaScript as a number.
    p = oid === INT8 ? (v) => Number(v) : pg.types.getTypeParser(oid, 'text');
    parsers.set(oid, p);
  }
  return p;
}

const ERROR_FIELDS = ['severity', 'code', 'detail', 'hint', 'position', 'schema', 'table', 'column', 'constraint'];
const SYNC = serialize.sync();
const DESCRIBE_PORTAL = serialize.describe({ type: 'P' });
const EXECUTE = serialize.execute({});

export class ConnectionLost extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'ConnectionLost';
    if (code) this.code = code;
  }
}

export class SyncConnection {
  /** @param {number} fd a connected, authenticated, idle, blocking socket */
  constructor(fd) {
    this.fd = fd;
    this.parser = new Parser();
    this.chunk = Buffer.allocUnsafe(64 * 1024);
    this.broken = false;
    /** Parse messages by statement text: a script repeats a handful of statements. */
    this.parses = new Map();
  }

  /** The Parse message of an unnamed statement, serialized once per text (the bytes are the same). */
  parseMessage(sql) {
    let m = this.parses.get(sql);
    if (!m) {
      m = serialize.parse({ text: sql });
      // A script that builds statement texts on the fly must not grow this without bound.
      if (this.parses.size >= 256) this.parses.clear();
      this.parses.set(sql, m);
    }
    return m;
  }

  send(buf) {
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) {
      this.broken = true;
      throw new ConnectionLost(`write to the server failed: ${e.message}`, e.code);
    }
  }

  /**
   * Runs one statement (with args: extended protocol, unnamed statement; without: simple protocol,
   * several statements allowed) and returns its results, one per statement.
   */
  query(sql, args) {
    if (this.broken) throw new ConnectionLost('connection is closed');
    if (args.length) {
      this.send(Buffer.concat([this.parseMessage(sql), serialize.bind({ values: args, valueMapper: utils.prepareValue }), DESCRIBE_PORTAL, EXECUTE, SYNC]));
    } else {
      this.send(serialize.query(sql));
    }
    const results = [];
    let current = null;
    let error = null;
    let ready = false;
    const onMessage = (msg) => {
      switch (msg.name) {
        case 'rowDescription':
          current = { fields: msg.fields.map((f) => ({ name: f.name, parse: f.format === 'binary' ? (v) => v : typeParser(f.dataTypeID) })), rows: [], rowCount: 0 };
          break;
        case 'dataRow': {
          if (!current) break;
          const row = {};
          const fs = current.fields;
          for (let i = 0; i < fs.length; i++) {
            const v = msg.fields[i];
            row[fs[i].name] = v === null ? null : fs[i].parse(v);
          }
          current.rows.push(row);
          break;
        }
        case 'commandComplete': {
          const m = /^[A-Za-z]+(?: (\d+))?(?: (\d+))?/.exec(msg.text);
          const n = m ? Number(m[2] ?? m[1] ?? 0) : 0;
          const r = current ?? { fields: [], rows: [], rowCount: 0 };
          r.rowCount = Number.isFinite(n) ? n : 0;
          results.push(r);
          current = null;
          break;
        }
        case 'emptyQuery':
          results.push({ fields: [], rows: [], rowCount: 0 });
          break;
        case 'error':
          error ??= msg;
          break;
        case 'readyForQuery':
          ready = true;
          break;
        case 'copyInResponse':
          // xk6-sql has no way to send COPY data; refuse it, as the server then answers and goes on.
          this.send(serialize.copyFail('COPY FROM STDIN is not supported by xk6-sql'));
          break;
        default:
          // parseComplete, bindComplete, noData, notice, parameterStatus, notification: nothing to do.
          break;
      }
    };
    // Bounded by the server: every request ends with ReadyForQuery, or the connection ends.
    while (!ready) {
      let n;
      try {
        n = readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      } catch (e) {
        if (e.code === 'EAGAIN') throw new Error('socket is not in blocking mode');
        this.broken = true;
        throw new ConnectionLost(`read from the server failed: ${e.message}`, e.code);
      }
      if (n === 0) {
        this.broken = true;
        throw error ? toError(error) : new ConnectionLost('the server closed the connection', 'ECONNRESET');
      }
      // The parser may keep a reference to an incomplete message: give it its own copy.
      this.parser.parse(Buffer.from(this.chunk.subarray(0, n)), onMessage);
    }
    if (error) throw toError(error);
    return results;
  }

  /** Sends Terminate; the SQL host closes the socket. */
  terminate() {
    if (this.broken) return;
    this.broken = true;
    try {
      writeSync(this.fd, serialize.end());
    } catch {
      // Already gone.
    }
  }
}

function toError(msg) {
  const err = new Error(`pq: ${msg.message}`);
  for (const k of ERROR_FIELDS) if (msg[k] !== undefined) err[k] = msg[k];
  return err;
}
