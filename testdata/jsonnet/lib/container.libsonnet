// Imported relative to this file's folder.
local ports = import 'ports.libsonnet';
{
  name: 'app',
  image: 'nginx:{{ env `TAG` `latest` }}',
  essential: true,
  portMappings: ports,
}
