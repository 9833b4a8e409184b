/** What the consent page tells the user each scope allows. */
const DESCRIPTIONS: Record<string, string> = {
  'mcp:tools': 'list and call the basic tools (who you are, your notes)',
  'mcp:resources': 'list and read resources',
  'mcp:prompts': 'list and use prompts',
  'notes:write': 'add and delete your notes',
  'upstream:read': 'let tools read your data at the identity provider, as you',
  openid: 'know your user identifier',
  email: 'see your email address',
  profile: 'see your name',
  offline_access: 'stay signed in when you are away',
};

export function describeScope(scope: string): string {
  return DESCRIPTIONS[scope] ?? 'a permission this server defines';
}
