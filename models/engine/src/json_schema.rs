//! Validation of JSON values against the app's JSON Schemas, by the `jsonschema` crate.
//!
//! Constrained decoding should make every output valid; this check proves it for each output
//! instead of assuming it, with a validator independent of the one that constrained decoding.

use serde_json::Value;

/// Checks `value` against `schema`; the error names every rule broken, each with the JSON
/// pointer of the value at fault (`/items/0`, or `/` for the whole value).
pub fn validate(value: &Value, schema: &Value) -> Result<(), String> {
    let validator =
        jsonschema::validator_for(schema).map_err(|error| format!("invalid schema: {error}"))?;
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|error| {
            let path = error.instance_path().to_string();
            let path = if path.is_empty() { "/".into() } else { path };
            format!("{path}: {error}")
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
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
            (
                json!({"items": ["ab"]}),
                "/: \"flag\" is a required property",
            ),
            (
                json!({"items": [], "flag": true}),
                "/items: [] has less than 1 item",
            ),
            (
                json!({"items": ["a"], "flag": true}),
                "/items/0: \"a\" is shorter than 2 characters",
            ),
            (
                json!({"items": ["abcdef"], "flag": true}),
                "/items/0: \"abcdef\" is longer than 5",
            ),
            (
                json!({"items": ["ab"], "flag": "yes"}),
                "/flag: \"yes\" is not of type \"boolean\"",
            ),
            (
                json!({"items": ["ab"], "flag": true, "level": "mid"}),
                "/level: \"mid\" is not one of",
            ),
            (
                json!({"items": ["ab"], "flag": true, "x": 1}),
                "'x' was unexpected",
            ),
        ];
        for (value, expected) in cases {
            let err = validate(&value, &schema()).unwrap_err();
            assert!(err.contains(expected), "{err} ≠ {expected}");
        }
    }

    #[test]
    fn every_rule_broken_is_listed() {
        let err = validate(&json!({"items": [], "x": 1}), &schema()).unwrap_err();
        assert_eq!(err.split("; ").count(), 3, "{err}");
    }

    #[test]
    fn a_broken_schema_is_named() {
        let err = validate(&json!(1), &json!({"type": 12})).unwrap_err();
        assert!(err.starts_with("invalid schema"), "{err}");
    }
}
