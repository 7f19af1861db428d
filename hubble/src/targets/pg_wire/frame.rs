//! The messages of protocol 3.0 the reader sends, and how it finds the server's in what it has read.

use super::{ServerError, WireError};

/// Asks the server to switch to TLS before the startup message: length 8, code 1234 5679.
pub(super) const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Ends the session politely.
pub(super) const TERMINATE: [u8; 5] = [b'X', 0, 0, 0, 4];

/// The largest message the server may send: its own limit on a field is 1 GB, and anything longer is a
/// stream out of step (or not PostgreSQL), not an answer.
const MAX_MESSAGE: usize = 1 << 30;

/// A typed frontend message: `tag`, then the body `fill` writes, with the length in between.
fn message(tag: u8, fill: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = vec![tag, 0, 0, 0, 0];
    fill(&mut out);
    set_len(&mut out, 1);
    out
}

/// Writes the length of the message that starts at `at` (its length field included, its tag not).
fn set_len(out: &mut [u8], at: usize) {
    let len = u32::try_from(out.len() - at).expect("a frontend message under 4 GB");
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn cstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

/// The startup message: protocol 3.0 and the session's parameters.
pub(super) fn startup(params: &[(&str, &str)]) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0];
    out.extend_from_slice(&196_608_u32.to_be_bytes());
    for (key, value) in params {
        cstr(&mut out, key.as_bytes());
        cstr(&mut out, value.as_bytes());
    }
    out.push(0);
    set_len(&mut out, 0);
    out
}

/// A password message: the password in clear or its MD5 form.
pub(super) fn password(password: &[u8]) -> Vec<u8> {
    message(b'p', |out| cstr(out, password))
}

/// The first SASL message: the mechanism chosen and the client's first message.
pub(super) fn sasl_initial(mechanism: &str, data: &[u8]) -> Vec<u8> {
    message(b'p', |out| {
        cstr(out, mechanism.as_bytes());
        let len = i32::try_from(data.len()).expect("a short SASL message");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(data);
    })
}

/// A later SASL message.
pub(super) fn sasl_response(data: &[u8]) -> Vec<u8> {
    message(b'p', |out| out.extend_from_slice(data))
}

/// A simple query: every statement of `sql`, answered in order.
pub(super) fn query(sql: &str) -> Result<Vec<u8>, WireError> {
    if sql.contains('\0') {
        return Err(WireError::Protocol(
            "a query cannot contain a NUL character".into(),
        ));
    }
    Ok(message(b'Q', |out| cstr(out, sql.as_bytes())))
}

/// What the start of a buffer holds of the next message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// The whole message: its tag and body length.
    Whole(u8, usize),
    /// Part of it: this many bytes from its start make it whole (5 while its header is incomplete).
    Needs(usize),
}

/// The next message at the start of `buf`; an error for a length no message of the protocol has.
pub(super) fn header(buf: &[u8]) -> Result<Next, WireError> {
    let Some(head) = buf.get(..5) else {
        return Ok(Next::Needs(5));
    };
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if !(4..=MAX_MESSAGE).contains(&len) {
        return Err(WireError::Protocol(format!(
            "a message of type {:?} claims {len} bytes: not PostgreSQL's protocol 3.0",
            char::from(head[0])
        )));
    }
    let body = len - 4;
    Ok(if buf.len() >= 5 + body {
        Next::Whole(head[0], body)
    } else {
        Next::Needs(5 + body)
    })
}

/// Reads a big-endian `u16`, `i32` or `u32` at `at`, if there.
pub(super) fn be<const N: usize>(body: &[u8], at: usize) -> Option<[u8; N]> {
    body.get(at..at + N)?.try_into().ok()
}

/// The C string at the start of `body`, and what follows it.
pub(super) fn split_cstr(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = memchr::memchr(0, body)?;
    Some((&body[..nul], &body[nul + 1..]))
}

/// An `ErrorResponse` (or `NoticeResponse`): its fields, each a type byte and a C string.
pub(super) fn server_error(body: &[u8]) -> ServerError {
    let mut e = ServerError::default();
    let mut rest = body;
    while let Some((&field, after)) = rest.split_first() {
        if field == 0 {
            break;
        }
        let Some((value, after)) = split_cstr(after) else {
            break;
        };
        let value = String::from_utf8_lossy(value).into_owned();
        match field {
            // `V` is never localized; `S` may be, and older servers send only it.
            b'V' => e.severity = value,
            b'S' if e.severity.is_empty() => e.severity = value,
            b'C' => e.code = value,
            b'M' => e.message = value,
            b'D' => e.detail = Some(value),
            _ => {}
        }
        rest = after;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_length_after_the_tag() {
        assert_eq!(query("SELECT 1").unwrap(), b"Q\0\0\0\x0dSELECT 1\0");
        assert_eq!(password(b"pw"), b"p\0\0\0\x07pw\0");
        let start = startup(&[("user", "u")]);
        assert_eq!(&start[..4], &(start.len() as u32).to_be_bytes());
        assert_eq!(&start[4..], b"\0\x03\0\0user\0u\0\0");
        assert_eq!(
            sasl_initial("SCRAM-SHA-256", b"n,,"),
            b"p\0\0\0\x19SCRAM-SHA-256\0\0\0\0\x03n,,"
        );
        assert!(query("SELECT '\0'").is_err());
    }

    #[test]
    fn headers_say_whether_the_whole_message_is_there() {
        assert_eq!(header(b"Z\0\0").unwrap(), Next::Needs(5));
        assert_eq!(header(b"Z\0\0\0\x05I").unwrap(), Next::Whole(b'Z', 1));
        assert_eq!(header(b"D\0\0\0\x08ab").unwrap(), Next::Needs(9));
        assert!(
            header(b"D\0\0\0\x02").is_err(),
            "shorter than its own length field"
        );
        assert!(header(b"HTTP/1.1 400").is_err(), "not PostgreSQL");
    }

    #[test]
    fn error_fields_are_read_by_type() {
        let e = server_error(b"SERREUR\0VERROR\0C42P01\0Mrelation \"x\" does not exist\0Dmore\0\0");
        assert_eq!(e.severity, "ERROR");
        assert_eq!(e.code, "42P01");
        assert_eq!(e.message, "relation \"x\" does not exist");
        assert_eq!(e.detail.as_deref(), Some("more"));
        // Cut short: what was whole is kept.
        let e = server_error(b"C28P01\0Mpassword auth");
        assert_eq!((e.code.as_str(), e.message.as_str()), ("28P01", ""));
    }
}
