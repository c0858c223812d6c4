// 50 containers, each using env, must_env and if/else (as ../ecs-task-def.json)
local env = std.native('env');
local must_env = std.native('must_env');
{
  family: 'bench',
  cpu: '1024',
  memory: '4096',
  networkMode: 'awsvpc',
  requiresCompatibilities: ['FARGATE'],
  executionRoleArn: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
  taskRoleArn: 'arn:aws:iam::123456789012:role/' + env('TASK_ROLE', 'bench-task'),
  containerDefinitions: [
    {
      name: 'svc-00',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-00:' + env('TAG', 'latest'),
      essential: true,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8000, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '0' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_00', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-00/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-00',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-01',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-01:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8001, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '1' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_01', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-01/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-01',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-02',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-02:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8002, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '2' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_02', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-02/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-02',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-03',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-03:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8003, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '3' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_03', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-03/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-03',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-04',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-04:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8004, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '4' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_04', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-04/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-04',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-05',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-05:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8005, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '5' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_05', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-05/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-05',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-06',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-06:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8006, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '6' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_06', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-06/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-06',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-07',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-07:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8007, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '7' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_07', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-07/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-07',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-08',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-08:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8008, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '8' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_08', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-08/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-08',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-09',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-09:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8009, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '9' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_09', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-09/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-09',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-10',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-10:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8010, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '10' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_10', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-10/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-10',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-11',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-11:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8011, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '11' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_11', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-11/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-11',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-12',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-12:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8012, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '12' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_12', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-12/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-12',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-13',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-13:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8013, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '13' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_13', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-13/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-13',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-14',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-14:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8014, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '14' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_14', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-14/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-14',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-15',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-15:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8015, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '15' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_15', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-15/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-15',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-16',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-16:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8016, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '16' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_16', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-16/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-16',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-17',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-17:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8017, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '17' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_17', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-17/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-17',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-18',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-18:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8018, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '18' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_18', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-18/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-18',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-19',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-19:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8019, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '19' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_19', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-19/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-19',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-20',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-20:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8020, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '20' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_20', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-20/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-20',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-21',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-21:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8021, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '21' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_21', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-21/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-21',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-22',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-22:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8022, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '22' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_22', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-22/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-22',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-23',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-23:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8023, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '23' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_23', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-23/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-23',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-24',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-24:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8024, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '24' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_24', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-24/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-24',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-25',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-25:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8025, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '25' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_25', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-25/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-25',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-26',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-26:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8026, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '26' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_26', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-26/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-26',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-27',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-27:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8027, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '27' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_27', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-27/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-27',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-28',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-28:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8028, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '28' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_28', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-28/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-28',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-29',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-29:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8029, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '29' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_29', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-29/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-29',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-30',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-30:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8030, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '30' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_30', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-30/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-30',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-31',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-31:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8031, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '31' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_31', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-31/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-31',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-32',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-32:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8032, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '32' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_32', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-32/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-32',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-33',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-33:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8033, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '33' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_33', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-33/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-33',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-34',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-34:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8034, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '34' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_34', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-34/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-34',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-35',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-35:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8035, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '35' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_35', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-35/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-35',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-36',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-36:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8036, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '36' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_36', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-36/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-36',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-37',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-37:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8037, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '37' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_37', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-37/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-37',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-38',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-38:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8038, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '38' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_38', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-38/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-38',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-39',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-39:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8039, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '39' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_39', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-39/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-39',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-40',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-40:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8040, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '40' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_40', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-40/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-40',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-41',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-41:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8041, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '41' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_41', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-41/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-41',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-42',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-42:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8042, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '42' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_42', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-42/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-42',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-43',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-43:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8043, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '43' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_43', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-43/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-43',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-44',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-44:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8044, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '44' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_44', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-44/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-44',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-45',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-45:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8045, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '45' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_45', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-45/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-45',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-46',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-46:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8046, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '46' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_46', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-46/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-46',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-47',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-47:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8047, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '47' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_47', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-47/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-47',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-48',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-48:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8048, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '48' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_48', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-48/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-48',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
    {
      name: 'svc-49',
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/svc-49:' + env('TAG', 'latest'),
      essential: false,
      cpu: 16,
      memory: 64,
      portMappings: [{ containerPort: 8049, protocol: 'tcp' }],
      environment: [
        { name: 'SERVICE_INDEX', value: '49' },
        { name: 'DATABASE_URL', value: must_env('DATABASE_URL') },
        { name: 'APP_CONFIG', value: env('APP_CONFIG_JSON', 'APP_CONFIG_JSON') },
        { name: 'MODE', value: env('MODE_49', 'standard') },
        if env('FEATURE_FLAG', '') != '' then { name: 'FEATURE_FLAG', value: env('FEATURE_FLAG', '') }
        else { name: 'FEATURE_FLAG', value: 'off' },
        { name: 'LOG_LEVEL', value: env('LOG_LEVEL', 'info') },
      ],
      secrets: [
        { name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/bench/svc-49/api-key' },
      ],
      logConfiguration: {
        logDriver: 'awslogs',
        options: {
          'awslogs-group': '/ecs/bench',
          'awslogs-region': 'us-east-1',
          'awslogs-stream-prefix': 'svc-49',
        },
      },
      linuxParameters: { initProcessEnabled: true },
    },
  ],
}
