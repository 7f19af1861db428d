//! Removes secrets from error text before it is stored, logged or shown: the password of a URL's userinfo
//! (`postgres://user:secret@host`) and the value of `password=`, `sslpassword=`, `token=` style pairs.
//! Collector errors pass through here, as drivers and user code sometimes quote a connection string.

use std::borrow::Cow;

/// Keys whose value is replaced, matched case-insensitively (`password=`, `PGPASSWORD=`, `token: `).
const KEYS: [&str; 5] = ["password", "passwd", "pwd", "token", "secret"];

/// `text` with secrets replaced by `***`.
pub(crate) fn secrets(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("://") && !KEYS.iter().any(|k| lower.contains(k)) {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        // scheme://user:password@ → scheme://user:***@
        if lower[i..].starts_with("://") {
            out.push_str("://");
            i += 3;
            let rest = &text[i..];
            let end = rest
                .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
                .unwrap_or(rest.len());
            if let Some(at) = rest[..end].rfind('@') {
                let userinfo = &rest[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push('@');
                i += at + 1;
            }
            continue;
        }
        // Anywhere in a word: `PGPASSWORD=` and `sslpassword=` count.
        if let Some(key) = KEYS.iter().find(|k| lower[i..].starts_with(*k)) {
            // The key, any word characters after it (`password_file` is a key too), then `=` or `:`.
            let mut j = i + key.len();
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                j += 1;
            }
            let mut k = j;
            while k < bytes.len() && bytes[k] == b' ' {
                k += 1;
            }
            if k < bytes.len() && (bytes[k] == b'=' || bytes[k] == b':') {
                k += 1;
                while k < bytes.len() && bytes[k] == b' ' {
                    k += 1;
                }
                let quote = bytes.get(k).copied().filter(|q| *q == b'\'' || *q == b'"');
                let value_start = k + usize::from(quote.is_some());
                let mut end = value_start;
                while end < bytes.len()
                    && match quote {
                        Some(q) => bytes[end] != q,
                        None => {
                            !bytes[end].is_ascii_whitespace() && !b"&;,)\"'".contains(&bytes[end])
                        }
                    }
                {
                    end += 1;
                }
                if end > value_start {
                    out.push_str(&text[i..value_start]);
                    out.push_str("***");
                    i = end;
                    continue;
                }
            }
        }
        let c = text[i..].chars().next().expect("in bounds");
        out.push(c);
        i += c.len_utf8();
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::secrets;

    #[test]
    fn passwords_and_tokens_are_replaced() {
        for (input, want) in [
            (
                "cannot connect to postgres://app:hunter2@db:5432/x?sslmode=disable",
                "cannot connect to postgres://app:***@db:5432/x?sslmode=disable",
            ),
            (
                "host=db password=hunter2 user=app",
                "host=db password=*** user=app",
            ),
            ("password='hunter 2' user=app", "password='***' user=app"),
            ("PGPASSWORD=hunter2", "PGPASSWORD=***"),
            ("X-Consul-Token: abc-123", "X-Consul-Token: ***"),
            ("token=abc&dc=x", "token=***&dc=x"),
            (
                "http://127.0.0.1:8500/v1/catalog",
                "http://127.0.0.1:8500/v1/catalog",
            ),
            (
                "relation \"passwords\" does not exist",
                "relation \"passwords\" does not exist",
            ),
            ("résumé password=é", "résumé password=***"),
            (
                "invalid input syntax for type integer: \"password=hunter2\"",
                "invalid input syntax for type integer: \"password=***\"",
            ),
        ] {
            assert_eq!(secrets(input), want, "{input}");
        }
    }
}
