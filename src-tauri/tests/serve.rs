//! `citrus serve`, the local OpenAI-compatible API, over real HTTP on loopback with the real
//! default model: models, chat (whole, streamed, JSON schema, log-probabilities), completions
//! (prompt scoring by echo), errors in the OpenAI form, the key, the Host check, and the
//! official `openai` Python client.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::server::Server;
use common::{text, TempDir};
use serde_json::{json, Value};

/// A raw HTTP request, for headers a client library would not send.
fn raw_request(authority: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(authority).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn chat(content: &str) -> Value {
    json!({
        "model": "any",
        "messages": [
            {"role": "system", "content": "You are a careful clinician."},
            {"role": "user", "content": content},
        ],
        "temperature": 0,
        "max_tokens": 24,
        "seed": 7,
    })
}

#[test]
fn the_api_answers_as_openai_servers_do_on_the_real_model() {
    let server = Server::start("serve", &[]);

    let models: Value = ureq::get(&server.url("/models"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let id = models["data"][0]["id"].as_str().unwrap().to_string();
    assert!(!id.is_empty(), "{models}");

    // Whole and streamed, the same greedy reply.
    let question = "Which electrolyte disturbance causes peaked T waves?";
    let whole = server.post("/chat/completions", chat(question)).unwrap();
    let message = &whole["choices"][0]["message"];
    let content = message["content"].as_str().unwrap();
    assert!(!content.is_empty(), "{whole}");
    assert_eq!(whole["object"], "chat.completion");
    assert_eq!(whole["choices"][0]["finish_reason"], "length");
    assert_eq!(whole["usage"]["completion_tokens"], 24);
    let mut streamed = chat(question);
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let events = server.stream("/chat/completions", streamed);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let joined: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(joined, content);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 24);

    // Log-probabilities of the generated tokens, the chosen one first among the greedy top.
    let mut with_logprobs = chat(question);
    with_logprobs["logprobs"] = json!(true);
    with_logprobs["top_logprobs"] = json!(3);
    let scored = server.post("/chat/completions", with_logprobs).unwrap();
    let tokens = scored["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap();
    assert_eq!(tokens.len(), 24);
    for token in tokens {
        let best = &token["top_logprobs"][0];
        assert_eq!(
            best["token"], token["token"],
            "greedy picks the most likely"
        );
        assert!(token["logprob"].as_f64().unwrap() <= 0.0);
    }

    // JSON held to a schema through the same constrained decoder.
    let schema = json!({
        "type": "object",
        "properties": {"diagnosis": {"type": "string", "maxLength": 40}, "urgent": {"type": "boolean"}},
        "required": ["diagnosis", "urgent"],
        "additionalProperties": false,
    });
    let mut structured = chat("Chest pain with ST elevation: diagnosis and urgency as JSON.");
    structured["max_tokens"] = json!(80);
    structured["response_format"] =
        json!({"type": "json_schema", "json_schema": {"name": "finding", "schema": schema}});
    let answer = server.post("/chat/completions", structured).unwrap();
    let value: Value =
        serde_json::from_str(answer["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(
        value["diagnosis"].is_string() && value["urgent"].is_boolean(),
        "{value}"
    );

    // A prompt's own tokens scored (what likelihood evaluation needs), nothing generated.
    let prompt = "The first-line treatment of anaphylaxis is intramuscular epinephrine.";
    let echo = server
        .post(
            "/completions",
            json!({"prompt": prompt, "max_tokens": 0, "echo": true, "logprobs": 1}),
        )
        .unwrap();
    let choice = &echo["choices"][0];
    assert_eq!(choice["text"], prompt);
    let logprobs = &choice["logprobs"]["token_logprobs"];
    assert!(logprobs[0].is_null() || logprobs[1].is_number(), "{choice}");
    let scored: Vec<f64> = logprobs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        scored.len() >= 10 && scored.iter().all(|lp| *lp <= 0.0),
        "{choice}"
    );
    assert_eq!(echo["usage"]["completion_tokens"], 0);

    // A plain completion streamed, with a stop string.
    let events = server.stream(
        "/completions",
        json!({"prompt": "Aspirin, clopidogrel,", "max_tokens": 12, "temperature": 0, "stream": true, "stop": ["\n"]}),
    );
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_string))
        .collect();
    assert!(!text.contains('\n'), "{text:?}");

    // Errors in the OpenAI form.
    let (code, body) = server
        .post("/embeddings", json!({"input": "x"}))
        .unwrap_err();
    assert_eq!(code, 404);
    assert_eq!(body["error"]["type"], "not_found_error");
    let mut tools = chat(question);
    tools["tools"] = json!([{"type": "function", "function": {"name": "f"}}]);
    let (code, body) = server.post("/chat/completions", tools).unwrap_err();
    assert_eq!(
        (code, body["error"]["param"].clone()),
        (400, json!("tools"))
    );
    let mut two = chat(question);
    two["n"] = json!(2);
    assert_eq!(server.post("/chat/completions", two).unwrap_err().0, 400);

    // A page cannot reach it through another host name (DNS rebinding), nor from its origin.
    let authority = server.authority();
    let rebinding = raw_request(
        &authority,
        "GET /v1/models HTTP/1.1\r\nHost: attacker.example:80\r\nConnection: close\r\n\r\n",
    );
    assert!(rebinding.starts_with("HTTP/1.1 403"), "{rebinding}");
    let page = raw_request(
        &authority,
        &format!("GET /v1/models HTTP/1.1\r\nHost: {authority}\r\nOrigin: http://evil.example\r\nConnection: close\r\n\r\n"),
    );
    assert!(page.starts_with("HTTP/1.1 403"), "{page}");

    openai_python_client(&server);
}

/// The official `openai` Python client (installed by scripts/setup) streams a chat completion
/// and takes a json_schema completion.
fn openai_python_client(server: &Server) {
    let python = std::env::var("CITRUS_TEST_PYTHON")
        .expect("CITRUS_TEST_PYTHON names the Python with the openai client: run scripts/test");
    let script = r#"
import json, sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1], api_key="unused", max_retries=0, timeout=120)
stream = client.chat.completions.create(
    model="citrus", stream=True, temperature=0, max_tokens=16, seed=7,
    messages=[{"role": "user", "content": "Name one cause of chest pain."}])
text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
assert text, "no streamed text"
schema = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 20}},
          "required": ["answer"], "additionalProperties": False}
reply = client.chat.completions.create(
    model="citrus", temperature=0, max_tokens=40,
    messages=[{"role": "user", "content": "Answer in JSON: is aspirin an antiplatelet drug?"}],
    response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}})
value = json.loads(reply.choices[0].message.content)
assert isinstance(value["answer"], str)
print(json.dumps({"streamed": text, "structured": value}))
"#;
    let output = std::process::Command::new(python)
        .args(["-c", script, &server.base])
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "openai client: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    println!("openai client: {}", text(&output.stdout).trim());
}

#[test]
fn beyond_loopback_a_key_is_required_and_checked() {
    // Refused before listening.
    let refused = common::run_citrus(&["serve", "--host", "0.0.0.0", "--port", "0"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("server.key_required"),
        "{}",
        text(&refused.stderr)
    );

    // With a key, every request must carry it.
    let dir = TempDir::new("serve-key-file");
    let key_file = dir.0.join("key");
    std::fs::write(&key_file, "s3cret-key\n").unwrap();
    let server = Server::start("serve-key", &["--api-key-file", key_file.to_str().unwrap()]);
    let missing = ureq::get(&server.url("/models")).call().unwrap_err();
    let ureq::Error::Status(401, response) = missing else {
        panic!("{missing:?}")
    };
    let body: Value = response.into_json().unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");
    assert!(matches!(
        ureq::get(&server.url("/models"))
            .set("Authorization", "Bearer wrong-key!")
            .call(),
        Err(ureq::Error::Status(401, _))
    ));
    let models: Value = ureq::get(&server.url("/models"))
        .set("Authorization", "Bearer s3cret-key")
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert!(models["data"][0]["id"].is_string());
}
