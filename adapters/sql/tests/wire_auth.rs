//! The wire client's `caching_sha2_password` (MySQL 8's default plugin, which MariaDB does not
//! have) against a fake MySQL 8 server in the test: the fast path (the server has the password
//! cached), the full authentication with the server's RSA key fetched over a plain connection,
//! a switch from `mysql_native_password` to it, and a wrong password on each path. The server
//! checks the scramble and decrypts the password with its own code (`sha2`, `rsa`), not
//! mysql_common's. The key in `tests/fixtures/test-only-rsa-key.pem` serves this test only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::sync::{Arc, Mutex};

use openinsure_sql::wire::{Conn, WireOptions};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const KEY: &str = include_str!("fixtures/test-only-rsa-key.pem");
const PASSWORD: &str = "s3cret-for-mysql8";
const NONCE: [u8; 20] = *b"abcdefghij0123456789";
const SWITCH_NONCE: [u8; 20] = *b"ZYXWVUTSRQ9876543210";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Path {
    /// The password is cached: the scramble alone decides.
    Fast,
    /// Not cached: the client asks for the RSA key and sends the encrypted password.
    Full,
    /// The handshake names mysql_native_password, the server switches to caching_sha2_password.
    Switch,
}

/// What the server saw.
#[derive(Debug, Default)]
struct Seen {
    user: String,
    database: String,
    plugin: String,
    asked_for_key: bool,
    decrypted: Option<String>,
    accepted: bool,
}

async fn read(s: &mut DuplexStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.unwrap();
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    (head[3], body)
}

async fn write(s: &mut DuplexStream, seq: u8, body: &[u8]) {
    let len = body.len();
    let mut packet = vec![(len & 0xff) as u8, (len >> 8 & 0xff) as u8, (len >> 16) as u8, seq];
    packet.extend_from_slice(body);
    s.write_all(&packet).await.unwrap();
}

fn nul_terminated(buf: &[u8]) -> (String, &[u8]) {
    let end = buf.iter().position(|b| *b == 0).unwrap();
    (String::from_utf8(buf[..end].to_vec()).unwrap(), &buf[end + 1..])
}

/// XOR(SHA256(password), SHA256(SHA256(SHA256(password)) || nonce)), as MySQL 8 computes it.
fn expected_scramble(password: &str, nonce: &[u8]) -> Vec<u8> {
    let one = Sha256::digest(password.as_bytes());
    let two = Sha256::digest(one);
    let three = Sha256::new().chain_update(two).chain_update(nonce).finalize();
    one.iter().zip(three.iter()).map(|(a, b)| a ^ b).collect()
}

fn ok_packet() -> Vec<u8> {
    vec![0x00, 0, 0, 0x02, 0x00, 0, 0]
}

fn access_denied(user: &str) -> Vec<u8> {
    let mut p = vec![0xff, 0x15, 0x04];
    p.extend_from_slice(b"#28000");
    p.extend_from_slice(format!("Access denied for user '{user}'@'localhost' (using password: YES)").as_bytes());
    p
}

async fn fake_mysql8(mut s: DuplexStream, path: Path, seen: Arc<Mutex<Seen>>) {
    // the initial handshake (protocol 10)
    let caps: u32 = 0x0000_0200 // PROTOCOL_41
        | 0x0000_8000 // SECURE_CONNECTION
        | 0x0008_0000 // PLUGIN_AUTH
        | 0x0020_0000 // PLUGIN_AUTH_LENENC_CLIENT_DATA
        | 0x0000_0008 // CONNECT_WITH_DB
        | 0x0000_2000 // TRANSACTIONS
        | 0x0000_0001 // LONG_PASSWORD
        | 0x0000_0004; // LONG_FLAG
    let first_plugin = if path == Path::Switch { "mysql_native_password" } else { "caching_sha2_password" };
    let mut hs = vec![10u8];
    hs.extend_from_slice(b"8.0.36\0");
    hs.extend_from_slice(&7u32.to_le_bytes());
    hs.extend_from_slice(&NONCE[..8]);
    hs.push(0);
    hs.extend_from_slice(&(caps as u16).to_le_bytes());
    hs.push(0xff); // utf8mb4_0900_ai_ci
    hs.extend_from_slice(&0x0002u16.to_le_bytes());
    hs.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    hs.push(21);
    hs.extend_from_slice(&[0u8; 10]);
    hs.extend_from_slice(&NONCE[8..]);
    hs.push(0);
    hs.extend_from_slice(first_plugin.as_bytes());
    hs.push(0);
    write(&mut s, 0, &hs).await;

    // the client's answer: capabilities, max packet, charset, filler, user, auth data, db, plugin
    let (seq, response) = read(&mut s).await;
    assert_eq!(seq, 1);
    let (user, rest) = nul_terminated(&response[32..]);
    let auth_len = usize::from(rest[0]);
    assert!(auth_len < 251, "a short auth response");
    let mut auth = rest[1..=auth_len].to_vec();
    let (database, rest) = nul_terminated(&rest[1 + auth_len..]);
    let (plugin, _) = nul_terminated(rest);
    {
        let mut seen = seen.lock().unwrap();
        seen.user.clone_from(&user);
        seen.database = database;
        seen.plugin = plugin;
    }
    let mut seq = 2u8;
    let mut nonce = NONCE.to_vec();
    if path == Path::Switch {
        let mut switch = vec![0xfe];
        switch.extend_from_slice(b"caching_sha2_password\0");
        switch.extend_from_slice(&SWITCH_NONCE);
        switch.push(0);
        write(&mut s, seq, &switch).await;
        let (_, again) = read(&mut s).await;
        auth = again;
        seq += 2;
        nonce = SWITCH_NONCE.to_vec();
    }
    let accepted = match path {
        Path::Fast | Path::Switch => {
            let good = auth == expected_scramble(PASSWORD, &nonce);
            if good {
                write(&mut s, seq, &[0x01, 0x03]).await; // fast auth success
                seq += 1;
            }
            good
        }
        Path::Full => {
            write(&mut s, seq, &[0x01, 0x04]).await; // perform full authentication
            let (_, ask) = read(&mut s).await;
            assert_eq!(ask, [0x02], "over a plain connection the client asks for the key");
            seen.lock().unwrap().asked_for_key = true;
            let key = rsa::RsaPrivateKey::from_pkcs8_pem(KEY).unwrap();
            let public = key.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
            let mut packet = vec![0x01];
            packet.extend_from_slice(public.as_bytes());
            write(&mut s, seq + 2, &packet).await;
            let (_, encrypted) = read(&mut s).await;
            seq += 4;
            let plain = key.decrypt(rsa::Oaep::new::<sha1::Sha1>(), &encrypted).unwrap();
            let password: Vec<u8> =
                plain.iter().enumerate().map(|(i, b)| b ^ nonce[i % nonce.len()]).take_while(|b| *b != 0).collect();
            let password = String::from_utf8(password).unwrap();
            let good = password == PASSWORD;
            seen.lock().unwrap().decrypted = Some(password);
            good
        }
    };
    seen.lock().unwrap().accepted = accepted;
    if accepted {
        write(&mut s, seq, &ok_packet()).await;
    } else {
        write(&mut s, seq, &access_denied(&user)).await;
    }
    // hold the connection until the client hangs up
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
}

async fn connect(path: Path, password: &str) -> (Result<Conn, String>, Arc<Mutex<Seen>>) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let seen = Arc::new(Mutex::new(Seen::default()));
    tokio::spawn(fake_mysql8(server, path, seen.clone()));
    let options = WireOptions {
        user: "app".into(),
        password: password.into(),
        database: "openinsure".into(),
        session: Vec::new(),
        max_idle: 0,
    };
    let conn = Conn::open(Box::new(client), &options).await.map_err(|e| e.to_string());
    (conn, seen)
}

#[tokio::test]
async fn the_fast_path_sends_the_sha256_scramble() {
    let (conn, seen) = connect(Path::Fast, PASSWORD).await;
    assert!(conn.is_ok(), "{:?}", conn.err());
    let seen = seen.lock().unwrap();
    assert_eq!(
        (seen.user.as_str(), seen.database.as_str()),
        ("app", "openinsure"),
        "the database named in the handshake"
    );
    assert_eq!(seen.plugin, "caching_sha2_password");
    assert!(seen.accepted && !seen.asked_for_key);
}

#[tokio::test]
async fn full_authentication_encrypts_the_password_with_the_servers_key() {
    let (conn, seen) = connect(Path::Full, PASSWORD).await;
    assert!(conn.is_ok(), "{:?}", conn.err());
    let seen = seen.lock().unwrap();
    assert!(seen.asked_for_key, "the key was fetched");
    assert_eq!(seen.decrypted.as_deref(), Some(PASSWORD), "the server decrypted the password");
}

#[tokio::test]
async fn a_switch_from_native_to_caching_sha2_is_followed() {
    let (conn, seen) = connect(Path::Switch, PASSWORD).await;
    assert!(conn.is_ok(), "{:?}", conn.err());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.plugin, "mysql_native_password", "the first answer used the handshake's plugin");
    assert!(seen.accepted, "the scramble over the switch's nonce was right");
}

#[tokio::test]
async fn a_wrong_password_is_refused_on_every_path() {
    for path in [Path::Fast, Path::Full, Path::Switch] {
        let (conn, seen) = connect(path, "not-the-password").await;
        let err = conn.err().unwrap_or_else(|| panic!("{path:?}: a wrong password was accepted"));
        assert!(err.contains("1045") && err.contains("Access denied"), "{path:?}: {err}");
        assert!(!seen.lock().unwrap().accepted);
    }
}
