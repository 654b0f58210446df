import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorMessage } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { QueuedSink, type SinkContext } from './sink.ts';

/** Events written to the file in one write, at most. */
const WRITE_BATCH = 1000;

/**
 * `audit.sinks.log`: with `file`, one JSON object per line appended to it (its folder created, as Flipt does);
 * without, one entry per event through the runtime's logger, at info whatever `log.level` says (Flipt's audit
 * logger is its own, at info), with the message `AUDIT` and the event's fields inline. A write that fails is
 * logged once per run of failures (with how many were lost when writing works again) and counted, never thrown.
 */
export class LogSink extends QueuedSink {
  readonly #file: string;
  readonly #out: Logger | undefined;
  #handle: Promise<FileHandle> | undefined;
  /** Events lost since the last write that worked. */
  #lost = 0;

  constructor(settings: { readonly file: string }, context: SinkContext) {
    super('log', context);
    this.#file = settings.file;
    if (this.#file === '') this.#out = context.log.child({}, { level: 'info' });
    // Opened now, so that a file that cannot be written shows in the log at start-up (the error is logged when
    // the first batch finds it).
    else this.#opened().catch(() => undefined);
  }

  #opened(): Promise<FileHandle> {
    this.#handle ??= mkdir(dirname(this.#file), { recursive: true, mode: 0o755 }).then(() =>
      open(this.#file, 'a'),
    );
    return this.#handle;
  }

  protected async drain(): Promise<void> {
    while (!this.stopped) {
      const events = this.takeOldest(WRITE_BATCH);
      if (events.length === 0) return;
      if (this.#out !== undefined) {
        for (const event of events) this.#out.info(JSON.parse(event.json) as object, 'AUDIT');
        this.settle('sent', events.length);
        continue;
      }
      try {
        const handle = await this.#opened();
        await handle.appendFile(events.map((event) => `${event.json}\n`).join(''));
        this.settle('sent', events.length);
        if (this.#lost > 0) {
          this.log.info(
            { sink: this.name, file: this.#file, lost: this.#lost },
            'audit log file writable again',
          );
          this.#lost = 0;
        }
      } catch (error) {
        this.settle('failed', events.length);
        if (this.#lost === 0) {
          this.log.error(
            { sink: this.name, file: this.#file, error: errorMessage(error) },
            'audit log file cannot be written; its events are lost until it can',
          );
        }
        this.#lost += events.length;
        // Opened again for the next batch: the folder or the file may be back by then.
        const broken = this.#handle;
        this.#handle = undefined;
        broken?.then((handle) => handle.close()).catch(() => undefined);
      }
    }
  }

  protected override async release(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.then((opened) => opened.close()).catch(() => undefined);
    if (this.#lost > 0) {
      this.log.warn(
        { sink: this.name, file: this.#file, lost: this.#lost },
        'audit log file was not writable to the end',
      );
    }
  }
}
