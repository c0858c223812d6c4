// A Jsonnet config: evaluated first, then rendered as a template.
local env = std.native('env');
{
  region: env('ECSX_TEST_REGION', 'eu-west-1'),
  cluster: 'jsonnet-cluster',
  service: '{{ must_env `SERVICE` }}',
  service_definition: 'sv.jsonnet',
  task_definition: 'td.jsonnet',
  timeout: '%dm' % (std.extVar('TIMEOUT_MINUTES')),
  plugins: [{ name: 'tfstate', config: { path: 'terraform.tfstate' } }],
}
