using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.TestPlugins.Duplicate;

/// <summary>Registers "test-policy" again, which Vmm.TestPlugins.Fakes already registers.</summary>
public sealed class DuplicatePlugin : IVmmPlugin
{
    public string Name => "Duplicate";

    public void ConfigureServices(IServiceCollection services) =>
        services.AddVmmComponent<IPrivateMemoryPolicy, SecondPolicy>(ComponentKind.Policy, "test-policy", "A second policy under a taken name.");
}

public sealed class SecondPolicy : IPrivateMemoryPolicy;
