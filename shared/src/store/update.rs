//! One small builder for DynamoDB update expressions: attributes are added one at a time, each
//! with its own name and value placeholders, so adding an attribute never means copying a whole
//! expression.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;

#[derive(Debug, Default, Clone)]
pub struct UpdateExpr {
    set: Vec<String>,
    remove: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl UpdateExpr {
    pub fn new() -> Self {
        Self::default()
    }

    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#{}", placeholder(attribute));
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    /// A value placeholder of its own (`:name`), for the expression or a condition.
    pub fn value(&mut self, key: &str, value: AttributeValue) -> String {
        let placeholder = format!(":{}", placeholder(key));
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// `SET attribute = value`.
    pub fn set(mut self, attribute: &str, value: AttributeValue) -> Self {
        let name = self.name(attribute);
        let value = self.value(attribute, value);
        self.set.push(format!("{name} = {value}"));
        self
    }

    /// `SET attribute = value` when there is a value, `REMOVE attribute` when there is none.
    pub fn set_or_remove(self, attribute: &str, value: Option<AttributeValue>) -> Self {
        match value {
            Some(value) => self.set(attribute, value),
            None => self.remove(attribute),
        }
    }

    /// `SET attribute = if_not_exists(attribute, 0) + by`.
    pub fn add_to(mut self, attribute: &str, by: AttributeValue) -> Self {
        let name = self.name(attribute);
        let value = self.value(attribute, by);
        let zero = self.value("zero", AttributeValue::N("0".into()));
        self.set.push(format!("{name} = if_not_exists({name}, {zero}) + {value}"));
        self
    }

    /// `REMOVE attribute`.
    pub fn remove(mut self, attribute: &str) -> Self {
        let name = self.name(attribute);
        self.remove.push(name);
        self
    }

    /// A value placeholder that only the condition uses (`:key`).
    pub fn condition_value(mut self, key: &str, value: AttributeValue) -> Self {
        self.value(key, value);
        self
    }

    pub fn expression(&self) -> String {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        parts.join(" ")
    }

    /// Puts the expression and its placeholders on a transaction's update.
    pub fn on_update(self, update: UpdateBuilder) -> UpdateBuilder {
        update
            .update_expression(self.expression())
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
    }

    /// Puts the expression and its placeholders on an UpdateItem request.
    pub fn on_update_item(self, update: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
        update
            .update_expression(self.expression())
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
    }
}

fn placeholder(attribute: &str) -> String {
    attribute.chars().filter(char::is_ascii_alphanumeric).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_attribute_gets_its_own_placeholders() {
        let expr = UpdateExpr::new()
            .set("status", AttributeValue::S("done".into()))
            .add_to("itemsTotal", AttributeValue::N("3".into()))
            .set_or_remove("error", None)
            .remove("GSI1PK");
        assert_eq!(
            expr.expression(),
            "SET #status = :status, #itemsTotal = if_not_exists(#itemsTotal, :zero) + :itemsTotal \
             REMOVE #error, #GSI1PK"
        );
        assert_eq!(expr.names["#status"], "status");
        assert_eq!(expr.values[":itemsTotal"], AttributeValue::N("3".into()));
        assert!(!expr.values.contains_key(":error"));
    }
}
