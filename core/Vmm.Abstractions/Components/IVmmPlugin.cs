using Microsoft.Extensions.DependencyInjection;

namespace Vmm.Abstractions;

/// <summary>
/// Entry point of a plugin assembly: registers its named components (keyed services) into the host's
/// service collection. The host finds every public non-abstract implementation with a parameterless constructor.
/// </summary>
public interface IVmmPlugin
{
    /// <summary>Short name shown by `vmm plugins`.</summary>
    string Name { get; }

    void ConfigureServices(IServiceCollection services);
}
