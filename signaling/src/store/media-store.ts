// Where finished media files live (shorts, posters, avatars): a local directory served by this
// service, or an S3-compatible bucket (MinIO in docker-compose). Keys are relative paths such as
// `shorts/abc.mp4`; every URL a client gets answers HTTP range requests (a phone's player seeks).
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import express from 'express';
import type { Request, Response, NextFunction, RequestHandler } from 'express';

export interface MediaStore {
  readonly kind: 'local' | 's3';
  /** Creates the directory or the bucket when missing. */
  init(): Promise<void>;
  putFile(key: string, file: string, contentType: string): Promise<void>;
  putBuffer(key: string, body: Buffer, contentType: string): Promise<void>;
  /** Idempotent: a missing key is not an error. */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** What a browser fetches. */
  url(key: string): string;
  /** Serves GET /media/<key> (mounted at /media by the HTTP app). */
  handler(): RequestHandler;
  close(): void;
}

/** Where this service serves media from. */
export const MEDIA_PATH = '/media';

function checkKey(key: string): string {
  if (!/^[a-z]+\/[A-Za-z0-9_-]+\.[a-z0-9]+$/.test(key)) throw new Error(`bad media key ${key}`);
  return key;
}

export class LocalMediaStore implements MediaStore {
  readonly kind = 'local';

  constructor(readonly dir: string) {}

  async init(): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true });
  }

  private file(key: string): string {
    return path.join(this.dir, checkKey(key));
  }

  putFile(key: string, file: string, _contentType: string): Promise<void> {
    return this.place(key, (tmp) => fs.promises.copyFile(file, tmp));
  }

  putBuffer(key: string, body: Buffer, _contentType: string): Promise<void> {
    return this.place(key, (tmp) => fs.promises.writeFile(tmp, body));
  }

  /** Writes to a temporary name, then renames: a reader never sees half a file. */
  private async place(key: string, write: (tmp: string) => Promise<void>): Promise<void> {
    const dest = this.file(key);
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.part`;
    await write(tmp);
    await fs.promises.rename(tmp, dest);
  }

  async delete(key: string): Promise<void> {
    await fs.promises.rm(this.file(key), { force: true });
  }

  async exists(key: string): Promise<boolean> {
    return fs.promises.access(this.file(key)).then(() => true, () => false);
  }

  url(key: string): string {
    return `${MEDIA_PATH}/${checkKey(key)}`;
  }

  handler(): RequestHandler {
    // express.static (send) answers Range with 206 and Content-Range, and sets Accept-Ranges.
    return express.static(this.dir, { index: false, dotfiles: 'deny', immutable: true, maxAge: '365d', fallthrough: true });
  }

  close(): void { /* nothing held open */ }
}

export interface S3Options {
  bucket: string;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Base URL browsers fetch objects from; empty: this service proxies them. */
  publicUrl: string;
}

type S3 = typeof import('@aws-sdk/client-s3');

export class S3MediaStore implements MediaStore {
  readonly kind = 's3';
  private sdk!: S3;
  private client!: import('@aws-sdk/client-s3').S3Client;

  constructor(private readonly opts: S3Options) {}

  async init(): Promise<void> {
    this.sdk = await import('@aws-sdk/client-s3');
    const o = this.opts;
    this.client = new this.sdk.S3Client({
      region: o.region,
      endpoint: o.endpoint || undefined,
      forcePathStyle: true,
      credentials: o.accessKeyId ? { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } : undefined,
    });
    try {
      await this.client.send(new this.sdk.HeadBucketCommand({ Bucket: o.bucket }));
    } catch (e) {
      if (!notFound(e)) throw e;
      await this.client.send(new this.sdk.CreateBucketCommand({ Bucket: o.bucket }));
    }
  }

  async putFile(key: string, file: string, contentType: string): Promise<void> {
    const { size } = await fs.promises.stat(file);
    await this.client.send(new this.sdk.PutObjectCommand({
      Bucket: this.opts.bucket, Key: checkKey(key), Body: fs.createReadStream(file), ContentLength: size, ContentType: contentType,
    }));
  }

  async putBuffer(key: string, body: Buffer, contentType: string): Promise<void> {
    await this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.opts.bucket, Key: checkKey(key), Body: body, ContentType: contentType }));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.opts.bucket, Key: checkKey(key) }));
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.opts.bucket, Key: checkKey(key) }));
      return true;
    } catch (e) {
      if (notFound(e)) return false;
      throw e;
    }
  }

  url(key: string): string {
    const base = this.opts.publicUrl.replace(/\/+$/, '');
    return base ? `${base}/${checkKey(key)}` : `${MEDIA_PATH}/${checkKey(key)}`;
  }

  /** The proxy used when S3_PUBLIC_URL is empty: Range goes to the bucket, 206 comes back. */
  handler(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      const key = req.path.replace(/^\/+/, '');
      try { checkKey(key); } catch { return next(); }
      const range = typeof req.headers.range === 'string' ? req.headers.range : undefined;
      this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.opts.bucket, Key: key, Range: range })).then((o) => {
        res.status(o.ContentRange ? 206 : 200);
        res.set('Accept-Ranges', 'bytes');
        if (o.ContentType) res.type(o.ContentType);
        if (o.ContentLength !== undefined) res.set('Content-Length', String(o.ContentLength));
        if (o.ContentRange) res.set('Content-Range', o.ContentRange);
        if (o.ETag) res.set('ETag', o.ETag);
        res.set('Cache-Control', 'public, max-age=31536000, immutable');
        const body = o.Body as Readable;
        if (req.method === 'HEAD') { body.destroy(); res.end(); return; }
        body.on('error', () => res.destroy());
        body.pipe(res);
      }, (e) => {
        if (notFound(e)) return next();
        const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 416) { res.status(416).end(); return; }
        next(e);
      });
    };
  }

  /** Frees the SDK's keep-alive sockets. */
  close(): void {
    this.client?.destroy();
  }
}

function notFound(e: unknown): boolean {
  const x = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return x?.name === 'NotFound' || x?.name === 'NoSuchKey' || x?.name === 'NoSuchBucket' || x?.$metadata?.httpStatusCode === 404;
}

/** S3_BUCKET set: the bucket; empty: DATA_DIR/media. */
export function openMediaStore(opts: { dataDir: string; s3: S3Options }): MediaStore {
  return opts.s3.bucket ? new S3MediaStore(opts.s3) : new LocalMediaStore(path.resolve(opts.dataDir, 'media'));
}
