using System.Text;
using Vmm.Abstractions;
using Vmm.Core.Engine;

namespace Vmm.Hosting;

/// <summary>
/// One design under comparison: a component per kind and options, written <c>memory+policy[+thp][+faults][,section.option=value]...</c>
/// (e.g. <c>tdx-ci+hwpoison-v2,hwpoison.trackReason=true</c>); a part may name its kind (<c>faults=kvm-exit</c>). Kinds not
/// named take the run's defaults (memory plain, policy none, thp split, faults linux).
/// </summary>
public sealed record Stack(string Label, IReadOnlyDictionary<ComponentKind, string> Components, IReadOnlyList<KeyValuePair<string, string>> Options)
{
    /// <summary>The stacks <c>vmm compare</c> runs by default, in this order, where every component is registered.</summary>
    public static IReadOnlyList<string> DefaultLabels { get; } =
    [
        "plain+none",
        "plain+hwpoison-v2",
        "tdx-ci+none",
        "tdx-ci+prot-none",
        "tdx-ci+bounce-writes",
        "tdx-ci+hwpoison-v1",
        "tdx-ci+hwpoison-v2",
        "tdx-ci+hwpoison-v2,hwpoison.trackReason=true",
        "tdx-ci+guest-only",
        "tdx-ci+guest-memfd",
        "sev-snp+none",
        "sev-snp+guest-memfd",
    ];

    /// <summary>The default baseline: TDX hardware without any kernel protection.</summary>
    public const string DefaultBaseline = "tdx-ci+none";

    /// <summary>Reads <paramref name="text"/> against the components <paramref name="host"/> registers; a <see cref="ComparisonException"/> names what is wrong.</summary>
    public static Stack Parse(string text, IReadOnlyList<ComponentInfo> components)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(components);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts[0].Length == 0)
            throw new ComparisonException($"stack \"{text}\": name its components, e.g. tdx-ci+hwpoison-v2");
        var chosen = new Dictionary<ComponentKind, string>();
        foreach (var part in parts[0].Split('+', StringSplitOptions.TrimEntries))
        {
            if (part.Length == 0) throw new ComparisonException($"stack \"{text}\": an empty component between '+' signs");
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            ComponentKind kind;
            string name;
            if (equals > 0)
            {
                if (!ComponentKinds.TryParse(part[..equals], out kind))
                    throw new ComparisonException($"stack \"{text}\": unknown component kind \"{part[..equals]}\"; use one of: {string.Join(", ", ComponentKind.WellKnown.Select(k => k.Name))}");
                name = part[(equals + 1)..];
                if (!components.Any(c => c.Kind == kind && c.Name == name))
                {
                    var ofKind = components.Where(c => c.Kind == kind).Select(c => c.Name).ToList();
                    throw new ComparisonException($"stack \"{text}\": no {kind.Name} \"{name}\" is registered{NameHint.DidYouMean(name, ofKind)}; known: {string.Join(", ", ofKind)}");
                }
            }
            else
            {
                name = part;
                var kinds = components.Where(c => c.Name == name && ComponentKind.WellKnown.Contains(c.Kind)).Select(c => c.Kind).Distinct().ToList();
                if (kinds.Count == 0)
                {
                    var known = components.Where(c => ComponentKind.WellKnown.Contains(c.Kind)).Select(c => c.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
                    throw new ComparisonException($"stack \"{text}\": no component is named \"{name}\"{NameHint.DidYouMean(name, known)}; known: {string.Join(", ", known)} (see vmm plugins)");
                }
                if (kinds.Count > 1)
                    throw new ComparisonException($"stack \"{text}\": \"{name}\" is a {string.Join(" and a ", kinds.Select(k => k.Name))}; write {kinds[0].Name}={name}");
                kind = kinds[0];
            }
            if (!chosen.TryAdd(kind, name))
                throw new ComparisonException($"stack \"{text}\": two {kind.Name} components ({chosen[kind]} and {name}); a stack has one of each kind");
        }
        var options = new List<KeyValuePair<string, string>>();
        foreach (var option in parts.Skip(1))
        {
            var equals = option.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || equals == option.Length - 1 || option.IndexOf('.', StringComparison.Ordinal) is <= 0)
                throw new ComparisonException($"stack \"{text}\": expected section.option=value after a comma, like hwpoison.trackReason=true, not \"{option}\"");
            options.Add(new(option[..equals], option[(equals + 1)..]));
        }
        return new Stack(text, chosen, options);
    }

    /// <summary>The default stacks whose components are all registered.</summary>
    public static IReadOnlyList<Stack> Defaults(IReadOnlyList<ComponentInfo> components)
    {
        var stacks = new List<Stack>();
        foreach (var label in DefaultLabels)
        {
            try
            {
                stacks.Add(Parse(label, components));
            }
            catch (ComparisonException)
            {
                // A design whose plugin is not in plugins.json is simply not compared.
            }
        }
        return stacks;
    }

    /// <summary>A file-name-safe form of the label ("tdx-ci+hwpoison-v2_hwpoison.trackReason-true").</summary>
    public string FileName
    {
        get
        {
            var name = new StringBuilder(Label.Length);
            foreach (var c in Label)
                name.Append(c switch { ',' => '_', '=' => '-', _ when char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.' => c, _ => '_' });
            return name.ToString();
        }
    }

    internal RunOverrides ToEngine(KernelVersion? kernel) => new() { Kernel = kernel, Components = Components };
}
