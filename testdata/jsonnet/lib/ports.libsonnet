[{ containerPort: 8080, protocol: 'tcp' }]
