local container = import 'lib/container.libsonnet';
local must_env = std.native('must_env');
local tfstate = std.native('tfstate');
{
  family: 'jsonnet-app',
  networkMode: 'awsvpc',
  cpu: '256',
  memory: '512',
  taskRoleArn: tfstate('aws_iam_role.task.arn'),
  containerDefinitions: [
    container {
      environment: [
        { name: 'WORKER_ID', value: std.extVar('WorkerID') },
        { name: 'OWNER', value: must_env('OWNER') },
        { name: 'ESCAPED', value: std.native('json_escape')('say "hi"') },
      ],
    },
  ],
  ephemeralStorage: { sizeInGiB: std.extVar('Storage') },
}
