// Server credentials for mutual TLS with a minimum protocol version. grpc-js's createSsl()
// cannot set minVersion, so this subclass hands Node's TLS options to http2 directly.
import * as grpc from "@grpc/grpc-js";

export class MutualTlsCredentials extends grpc.ServerCredentials {
  constructor(material: { ca: string; cert: string; key: string }, minVersion: "1.2" | "1.3") {
    super(
      {
        requestCert: true, // ask for a client certificate …
        rejectUnauthorized: true, // … and refuse the handshake without a valid one
        minVersion: minVersion === "1.3" ? "TLSv1.3" : "TLSv1.2",
      },
      { ca: material.ca, cert: material.cert, key: material.key },
    );
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}
