/** A connection to a receiver, as the delivery loop sees it. */
export interface Link {
  /**
   * Hand these bytes to the kernel; resolves once flushed, rejects when the connection failed. `accepted` is
   * called once, as soon as the kernel holds every byte — synchronously, inside write, when the kernel took them
   * at once — so the caller can record it with nothing in between that a kill could interrupt.
   */
  write(chunks: readonly Buffer[], accepted: () => void): Promise<void>;
  /** Why the connection ended (reset, closed by the receiver, an error), or null while it is healthy. */
  readonly broken: string | null;
  close(): Promise<void>;
}

/** A way to reach a receiver: UDP, TCP, TLS, a JSON-lines file. A new transport is one file and one case. */
export interface Transport {
  /** The destination as logs may show it. */
  readonly label: string;
  /**
   * true for stream connections (TCP, TLS): a flushed write is only delivered once the connection stayed up
   * for the settle time after it, and a broken connection resends what was not yet settled. false when a
   * flushed write is all that can be known (UDP) or is itself durable (a synced file).
   */
  readonly settles: boolean;
  connect(): Promise<Link>;
  /** One rendered message as the bytes this transport sends (framing). */
  frame(message: string): Buffer;
  /** For files: the id of the last event already written, so a restart resumes exactly after it. */
  lastWrittenId?(): string | null;
}

/** An error that retrying cannot fix (an unverified TLS receiver): the destination stops, loudly. */
export class FatalExportError extends Error {}
