//! Schema descriptions: the single source for what Terraform validates, what the wire codec
//! expects, and what the generated reference docs say.

use std::collections::BTreeMap;

use super::value::Type;

#[derive(Debug, Clone)]
pub struct Schema {
    /// Bumped when stored state needs an upgrade; UpgradeResourceState receives the old number.
    pub version: i64,
    pub block: Block,
}

#[derive(Debug, Clone, Default)]
pub struct Block {
    pub description: String,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<NestedBlock>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Required,
    Optional,
    /// Set by the provider only.
    Computed,
    /// Set by the user, or defaulted/derived by the provider when the user leaves it out.
    OptionalComputed,
}

#[derive(Debug, Clone)]
pub struct Attribute {
    pub name: String,
    pub ty: Type,
    pub description: String,
    pub mode: Mode,
    pub sensitive: bool,
    pub write_only: bool,
    /// Shown in the docs; the resource applies it during plan (protocol 6 has no schema defaults).
    pub default: Option<String>,
    /// A change of this attribute plans a replacement; listed in the docs.
    pub forces_new: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// At most one block, encoded as a list of zero or one element (Terraform's classic shape).
    List,
    Set,
    /// At most one block, encoded as an object or null.
    Single,
}

#[derive(Debug, Clone)]
pub struct NestedBlock {
    pub name: String,
    pub nesting: Nesting,
    pub min_items: i64,
    pub max_items: i64,
    pub block: Block,
}

impl Attribute {
    fn new(name: &str, ty: Type, mode: Mode, description: &str) -> Self {
        Attribute {
            name: name.to_string(),
            ty,
            description: description.to_string(),
            mode,
            sensitive: false,
            write_only: false,
            default: None,
            forces_new: false,
        }
    }

    pub fn required(name: &str, ty: Type, description: &str) -> Self {
        Self::new(name, ty, Mode::Required, description)
    }

    pub fn optional(name: &str, ty: Type, description: &str) -> Self {
        Self::new(name, ty, Mode::Optional, description)
    }

    pub fn computed(name: &str, ty: Type, description: &str) -> Self {
        Self::new(name, ty, Mode::Computed, description)
    }

    /// An optional attribute whose value the provider fills in when it is not set.
    pub fn defaulted(name: &str, ty: Type, default: &str, description: &str) -> Self {
        let mut a = Self::new(name, ty, Mode::OptionalComputed, description);
        a.default = Some(default.to_string());
        a
    }

    pub fn optional_computed(name: &str, ty: Type, description: &str) -> Self {
        Self::new(name, ty, Mode::OptionalComputed, description)
    }

    /// Write-only (protocol 6.8, Terraform 1.11+): the value reaches the provider only in the
    /// configuration; plan and state always hold null, so a secret never lands in either.
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    pub fn forces_new(mut self) -> Self {
        self.forces_new = true;
        self
    }
}

impl NestedBlock {
    /// A block that may appear at most once (`max_items = 1`), the shape of `assume_role { … }`.
    pub fn single(name: &str, block: Block) -> Self {
        NestedBlock {
            name: name.to_string(),
            nesting: Nesting::List,
            min_items: 0,
            max_items: 1,
            block,
        }
    }
}

impl Block {
    pub fn new(description: &str) -> Self {
        Block {
            description: description.to_string(),
            ..Block::default()
        }
    }

    pub fn attr(mut self, a: Attribute) -> Self {
        self.attributes.push(a);
        self
    }

    pub fn block(mut self, b: NestedBlock) -> Self {
        self.blocks.push(b);
        self
    }

    /// The object type Terraform uses for this block's values on the wire and in state.
    pub fn value_type(&self) -> Type {
        let mut fields = BTreeMap::new();
        for a in &self.attributes {
            fields.insert(a.name.clone(), a.ty.clone());
        }
        for b in &self.blocks {
            let inner = b.block.value_type();
            let ty = match b.nesting {
                Nesting::List => Type::List(Box::new(inner)),
                Nesting::Set => Type::Set(Box::new(inner)),
                Nesting::Single => inner,
            };
            fields.insert(b.name.clone(), ty);
        }
        Type::Object(fields)
    }

    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

/// Shorthands that keep schema definitions readable.
pub fn string() -> Type {
    Type::String
}
pub fn number() -> Type {
    Type::Number
}
pub fn bool() -> Type {
    Type::Bool
}
pub fn list_of(t: Type) -> Type {
    Type::List(Box::new(t))
}
pub fn set_of(t: Type) -> Type {
    Type::Set(Box::new(t))
}
pub fn map_of(t: Type) -> Type {
    Type::Map(Box::new(t))
}
