using System.Text.RegularExpressions;
using Vmm.Abstractions;
using Vmm.Hosting;

namespace Vmm.Cli;

/// <summary>Reads <c>--kernel V</c> and <c>--set kind=name</c> into <see cref="ScenarioOverrides"/>; null and a message when malformed.</summary>
internal static partial class Overrides
{
    public static ScenarioOverrides? Parse(string? kernel, IReadOnlyList<string> sets, out string? error)
    {
        error = null;
        KernelVersion? version = null;
        if (kernel is not null)
        {
            if (!KernelPattern().IsMatch(kernel) || !KernelVersion.TryParse(kernel, out var parsed))
            {
                error = $"--kernel: expected a version like \"5.16\" or \"6.11\", not \"{kernel}\"";
                return null;
            }
            version = parsed;
        }
        var components = new Dictionary<ComponentKind, string>();
        foreach (var set in sets)
        {
            var equals = set.IndexOf('=', StringComparison.Ordinal);
            var kinds = string.Join(", ", ComponentKind.WellKnown.Select(k => k.Name));
            if (equals <= 0 || equals == set.Length - 1)
            {
                error = $"--set: expected kind=name like policy=hwpoison-v2, not \"{set}\"";
                return null;
            }
            if (!ComponentKinds.TryParse(set[..equals], out var kind))
            {
                error = $"--set: unknown component kind \"{set[..equals]}\"; use one of: {kinds}";
                return null;
            }
            components[kind] = set[(equals + 1)..];
        }
        return new ScenarioOverrides { Kernel = version, Components = components };
    }

    [GeneratedRegex(@"^[0-9]+\.[0-9]+$")]
    private static partial Regex KernelPattern();
}
