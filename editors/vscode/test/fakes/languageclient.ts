// A stand-in for `vscode-languageclient/node`: records each LanguageClient, starts no server.
import { Disposable, EventEmitter, window, workspace } from './vscode';

export enum State { Stopped = 1, Running = 2, Starting = 3 }
export enum TransportKind { stdio = 0, ipc = 1, pipe = 2, socket = 3 }

export const DidChangeConfigurationNotification = {
  type: { method: 'workspace/didChangeConfiguration' },
};

export class ResponseError<D = void> extends Error {
  constructor(readonly code: number, message: string, readonly data?: D) {
    super(message);
  }
}

export const behaviour = {
  /** When set, start() rejects with this message. */
  startFails: undefined as string | undefined,
};

export const clients: LanguageClient[] = [];

type ConfigurationItem = { section?: string; scopeUri?: string };
type AnyFn = (...args: any[]) => any;

export class LanguageClient {
  state: State = State.Stopped;
  readonly notifications: { method: string; params: any }[] = [];
  started = 0;
  stopped = 0;
  private readonly stateEvents = new EventEmitter<{ oldState: State; newState: State }>();
  private configListener: Disposable | undefined;

  constructor(readonly id: string, readonly name: string, readonly serverOptions: any, readonly clientOptions: any) {
    clients.push(this);
  }

  get onDidChangeState() {
    return this.stateEvents.event;
  }

  private setState(s: State): void {
    const old = this.state;
    this.state = s;
    this.stateEvents.fire({ oldState: old, newState: s });
  }

  async start(): Promise<void> {
    this.started++;
    this.setState(State.Starting);
    await new Promise((r) => setTimeout(r, 1));
    if (behaviour.startFails) {
      this.setState(State.Stopped);
      throw new Error(behaviour.startFails);
    }
    this.setState(State.Running);
    // Like the real client: synchronize.configurationSection sends the settings once started, and on each change.
    const section = this.clientOptions.synchronize?.configurationSection;
    if (section) {
      this.configListener = workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(section)) void this.configurationChanged();
      });
      await this.configurationChanged();
    }
  }

  async stop(): Promise<void> {
    this.stopped++;
    this.configListener?.dispose();
    this.setState(State.Stopped);
  }

  async dispose(): Promise<void> {
    if (this.state !== State.Stopped) await this.stop();
  }

  /** Like the real client: the message goes out a tick later; to a client stopped by then it fails, with an error message. */
  async sendNotification(type: { method: string }, params: unknown): Promise<void> {
    if (this.state !== State.Running) throw new Error('Client is not running');
    await new Promise((r) => setTimeout(r, 0));
    if (this.state !== State.Running) {
      void window.showErrorMessage(`Sending notification ${type.method} failed.`);
      throw new Error('Connection is disposed.');
    }
    this.notifications.push({ method: type.method, params });
  }

  /** The server asks workspace/configuration: the middleware answers, `next` (the default) gives null for each item. */
  async requestConfiguration(items: ConfigurationItem[]): Promise<unknown> {
    const next = async (params: { items: ConfigurationItem[] }) => params.items.map(() => null);
    const mw: AnyFn | undefined = this.clientOptions.middleware?.workspace?.configuration;
    return mw ? mw({ items }, { isCancellationRequested: false }, next) : next({ items });
  }

  /** A `torch-lsp.*` setting changed (what synchronize.configurationSection does). */
  async configurationChanged(): Promise<void> {
    const section = this.clientOptions.synchronize?.configurationSection;
    const sections = section === undefined ? undefined : [].concat(section);
    const next = async (s: string[] | undefined) => {
      this.notifications.push({ method: DidChangeConfigurationNotification.type.method,
        params: { settings: s === undefined ? null : { raw: true } } });
    };
    const mw: AnyFn | undefined = this.clientOptions.middleware?.workspace?.didChangeConfiguration;
    await (mw ? mw(sections, next) : next(sections));
  }
}
