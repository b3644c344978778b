//! Validation of JSON values against the subset of JSON Schema the app's schemas use:
//! `type` (object, array, string, boolean, integer, number), `enum`, `properties`, `required`,
//! `additionalProperties: false`, `minItems`/`maxItems`, `minLength`/`maxLength`.
//!
//! Constrained decoding should make every output valid; this check proves it for each output
//! instead of assuming it.

use serde_json::Value;

/// Checks `value` against `schema`; the error names the JSON path and the rule broken.
pub fn validate(value: &Value, schema: &Value) -> Result<(), String> {
    check(value, schema, "$")
}

fn check(value: &Value, schema: &Value, path: &str) -> Result<(), String> {
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return Err(format!(
                "{path}: {value} is not one of {}",
                Value::Array(allowed.clone())
            ));
        }
    }
    let Some(kind) = schema.get("type").and_then(Value::as_str) else {
        return Ok(());
    };
    match (kind, value) {
        ("object", Value::Object(map)) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str().unwrap_or_default();
                if !map.contains_key(name) {
                    return Err(format!("{path}: missing required property `{name}`"));
                }
            }
            for (name, item) in map {
                match properties.and_then(|p| p.get(name)) {
                    Some(sub) => check(item, sub, &format!("{path}.{name}"))?,
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        return Err(format!("{path}: unexpected property `{name}`"));
                    }
                    None => {}
                }
            }
            Ok(())
        }
        ("array", Value::Array(items)) => {
            within(items.len(), schema, "minItems", "maxItems", path, "items")?;
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item, item_schema, &format!("{path}[{i}]"))?;
                }
            }
            Ok(())
        }
        ("string", Value::String(s)) => within(
            s.chars().count(),
            schema,
            "minLength",
            "maxLength",
            path,
            "characters",
        ),
        ("boolean", Value::Bool(_)) => Ok(()),
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
        ("number", Value::Number(_)) => Ok(()),
        _ => Err(format!("{path}: expected {kind}, found {value}")),
    }
}

fn within(
    count: usize,
    schema: &Value,
    min: &str,
    max: &str,
    path: &str,
    unit: &str,
) -> Result<(), String> {
    let bound = |key: &str| schema.get(key).and_then(Value::as_u64).map(|b| b as usize);
    if let Some(min) = bound(min) {
        if count < min {
            return Err(format!("{path}: {count} {unit}, at least {min} required"));
        }
    }
    if let Some(max) = bound(max) {
        if count > max {
            return Err(format!("{path}: {count} {unit}, at most {max} allowed"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "items": {"type": "array", "minItems": 1, "maxItems": 2,
                          "items": {"type": "string", "minLength": 2, "maxLength": 5}},
                "level": {"enum": ["high", "low"]},
                "flag": {"type": "boolean"}
            },
            "required": ["items", "flag"],
            "additionalProperties": false
        })
    }

    #[test]
    fn accepts_valid_values() {
        assert_eq!(
            validate(
                &json!({"items": ["ab"], "flag": true, "level": "low"}),
                &schema()
            ),
            Ok(())
        );
    }

    #[test]
    fn names_the_path_and_rule_broken() {
        let cases = [
            (json!({"items": ["ab"]}), "missing required property `flag`"),
            (
                json!({"items": [], "flag": true}),
                "$.items: 0 items, at least 1",
            ),
            (
                json!({"items": ["a"], "flag": true}),
                "$.items[0]: 1 characters, at least 2",
            ),
            (json!({"items": ["abcdef"], "flag": true}), "at most 5"),
            (
                json!({"items": ["ab"], "flag": "yes"}),
                "$.flag: expected boolean",
            ),
            (
                json!({"items": ["ab"], "flag": true, "level": "mid"}),
                "$.level: \"mid\" is not one of",
            ),
            (
                json!({"items": ["ab"], "flag": true, "x": 1}),
                "unexpected property `x`",
            ),
        ];
        for (value, expected) in cases {
            let err = validate(&value, &schema()).unwrap_err();
            assert!(err.contains(expected), "{err} ≠ {expected}");
        }
    }
}
