"""Payment providers: how a tenant's purchase of funds is charged (a simulator is the only one so far)."""
