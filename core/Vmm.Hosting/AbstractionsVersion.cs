using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Vmm.Abstractions;

namespace Vmm.Hosting;

/// <summary>
/// The load-time check that a plugin was built against a Vmm.Abstractions this host can share with it. The version the
/// plugin references is read from its metadata before it is loaded, so a mismatch is one message naming both versions,
/// not a TypeLoadException or MissingMethodException halfway through a run.
/// </summary>
public static class AbstractionsVersion
{
    /// <summary>The Vmm.Abstractions assembly version this host shares with its plugins.</summary>
    public static Version Host { get; } = typeof(IVmmPlugin).Assembly.GetName().Version ?? new Version(0, 0);

    /// <summary>
    /// Whether a plugin built against <paramref name="referenced"/> runs on <paramref name="host"/>: the same major
    /// version (before 1.0, the same minor one), within which contracts only grow, and no newer version than the host's,
    /// whose contracts the plugin may use. The load context would bind either to the host's copy and fail later, in a run.
    /// </summary>
    public static bool IsCompatible(Version referenced, Version host)
    {
        ArgumentNullException.ThrowIfNull(referenced);
        ArgumentNullException.ThrowIfNull(host);
        if (referenced.Major != host.Major || (host.Major == 0 && referenced.Minor != host.Minor)) return false;
        return referenced <= host;
    }

    /// <summary>The Vmm.Abstractions version the assembly at <paramref name="path"/> references, or null when it references none or is no .NET assembly.</summary>
    public static Version? ReferencedBy(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            if (!pe.HasMetadata) return null;
            var metadata = pe.GetMetadataReader();
            foreach (var handle in metadata.AssemblyReferences)
            {
                var reference = metadata.GetAssemblyReference(handle);
                if (metadata.StringComparer.Equals(reference.Name, AssemblyName)) return reference.Version;
            }
            return null;
        }
        catch (Exception e) when (e is BadImageFormatException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            // Not an assembly: loading it says so, with the fix.
            return null;
        }
    }

    /// <summary>One line saying why the plugin at <paramref name="path"/> cannot share this host's Vmm.Abstractions and what to do, or null when it can.</summary>
    public static string? Problem(string path)
    {
        if (ReferencedBy(path) is not { } referenced || IsCompatible(referenced, Host)) return null;
        return $"built against {AssemblyName} {Show(referenced)}, but this vmm has {AssemblyName} {Show(Host)}; "
            + $"rebuild the plugin against {AssemblyName} {Host.Major}.{Host.Minor}.* (its PackageReference Version), or use a vmm built with {AssemblyName} {referenced.Major}.{referenced.Minor}";
    }

    private const string AssemblyName = "Vmm.Abstractions";

    private static string Show(Version version) => version.ToString(version.Build < 0 ? 2 : version.Revision > 0 ? 4 : 3);
}
