// node-postgres's SCRAM and md5 helpers, used by the pipelined session's authentication; they ship
// without type declarations.
declare module 'pg/lib/crypto/sasl.js' {
  interface SaslSession {
    mechanism: string;
    response: string;
  }
  const sasl: {
    startSession(mechanisms: string[], stream: null): SaslSession;
    continueSession(session: SaslSession | undefined, password: string, serverData: string, stream: null): Promise<void>;
    finalizeSession(session: SaslSession | undefined, serverData: string): void;
  };
  export default sasl;
}
declare module 'pg/lib/crypto/utils.js' {
  const utils: { postgresMd5PasswordHash(user: string, password: string, salt: Buffer): Promise<string> };
  export default utils;
}
