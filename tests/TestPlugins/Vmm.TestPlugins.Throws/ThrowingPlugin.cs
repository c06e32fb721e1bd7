using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.TestPlugins.Throws;

/// <summary>Fails while registering, as a broken plugin would.</summary>
public sealed class ThrowingPlugin : IVmmPlugin
{
    public string Name => "Throws";

    public void ConfigureServices(IServiceCollection services) =>
        throw new InvalidOperationException("the throwing test plugin is broken on purpose");
}
