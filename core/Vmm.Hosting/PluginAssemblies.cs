using System.Reflection;
using McMaster.NETCore.Plugins;
using Microsoft.Extensions.DependencyInjection;
using Vmm.Abstractions;

namespace Vmm.Hosting;

/// <summary>
/// Loads plugin assemblies with McMaster, each into its own load context that shares the abstractions with the
/// host (type identity of <see cref="IVmmPlugin"/>, <see cref="IServiceCollection"/>, outcomes, addresses).
/// Contexts are not unloadable and each file is loaded once per process.
/// </summary>
internal static class PluginAssemblies
{
    /// <summary>One type from each assembly the host and plugins must share.</summary>
    public static readonly Type[] SharedTypes =
    [
        typeof(IVmmPlugin),
        typeof(IServiceCollection),
    ];

    private static readonly Dictionary<string, Assembly> Loaded = new(StringComparer.Ordinal);
    private static readonly Lock Gate = new();

    public static Assembly Load(string fullPath)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(fullPath, out var assembly)) return assembly;
            var loader = PluginLoader.CreateFromAssemblyFile(fullPath, SharedTypes, config =>
            {
                config.PreferSharedTypes = true;
                config.IsUnloadable = false;
            });
            assembly = loader.LoadDefaultAssembly();
            Loaded[fullPath] = assembly;
            return assembly;
        }
    }
}
