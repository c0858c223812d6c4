use std::path::Path;
#[derive(Clone, Debug)]
pub struct World;
pub struct DeriveInput { pub region: String, pub cluster: String, pub service: Option<String>, pub task_definition: serde_json::Value, pub service_definition: Option<serde_json::Value> }
#[derive(Debug, thiserror::Error)]
#[error("world")]
pub struct WorldError;
impl World {
    pub fn derive(_i: &DeriveInput) -> World { World }
    pub fn from_yaml_file(_p: &Path, _b: Option<World>) -> Result<World, WorldError> { Ok(World) }
}
