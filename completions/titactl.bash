# SPDX-License-Identifier: MIT
# bash completion for titactl(8): objects, verbs, filters and options. Job
# and RDMA device names come from the running daemon (titactl -j job show,
# titactl -j qps), when it answers.

_titactl_jobs()
{
	local sock=$1
	titactl ${sock:+-s "$sock"} -j job show 2>/dev/null |
		grep -o '"name":"[^"]*"' | cut -d'"' -f4
}

_titactl_ports()
{
	local sock=$1
	titactl ${sock:+-s "$sock"} -j ports 2>/dev/null |
		grep -o '"ifname":"[^"]*"' | cut -d'"' -f4
}

_titactl_devices()
{
	local sock=$1
	titactl ${sock:+-s "$sock"} -j qps 2>/dev/null |
		grep -o '"device":"[^"]*"' | cut -d'"' -f4 | sort -u
}

_titactl()
{
	local cur prev words cword
	_init_completion || return

	local sock="" i obj="" verb="" objidx=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s | --socket)
			sock=${words[i + 1]}
			((i++))
			;;
		-*) ;;
		*)
			if [[ -z $obj ]]; then
				obj=${words[i]}
				objidx=$i
			elif [[ -z $verb ]]; then
				verb=${words[i]}
			fi
			;;
		esac
	done

	case $prev in
	-s | --socket)
		_filedir
		return
		;;
	--weight | --min | --max)
		return
		;;
	role)
		COMPREPLY=($(compgen -W "tx rx" -- "$cur"))
		return
		;;
	job)
		if [[ $obj == pairs || $obj == qps ]]; then
			COMPREPLY=($(compgen -W "$(_titactl_jobs "$sock")" -- "$cur"))
			return
		fi
		;;
	device)
		if [[ $obj == qps ]]; then
			COMPREPLY=($(compgen -W "$(_titactl_devices "$sock")" -- "$cur"))
		fi
		return
		;;
	dev)
		if [[ $obj == pairs ]]; then
			COMPREPLY=($(compgen -W "$(_titactl_ports "$sock")" -- "$cur"))
		fi
		return
		;;
	local | remote | peer)
		return
		;;
	esac

	if [[ -z $obj ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-j --json -p --pretty -s --socket -h --help -V --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "status ports fabric peers pairs qps health job monitor diagnose help" -- "$cur"))
		fi
		return
	fi

	case $obj in
	pairs)
		COMPREPLY=($(compgen -W "dev job local peer remote role" -- "$cur"))
		;;
	qps)
		COMPREPLY=($(compgen -W "job device" -- "$cur"))
		;;
	monitor)
		COMPREPLY=($(compgen -W "all peers pairs ports" -- "$cur"))
		;;
	diagnose)
		case $prev in
		--file)
			_filedir
			;;
		--prometheus | --job | --targets | --window | --timeout) ;;
		*)
			COMPREPLY=($(compgen -W "--prometheus --job --targets --file --window --timeout help" -- "$cur"))
			;;
		esac
		;;
	job)
		if [[ -z $verb ]]; then
			COMPREPLY=($(compgen -W "set show clear" -- "$cur"))
		elif [[ $cword -eq $((objidx + 2)) ]]; then
			COMPREPLY=($(compgen -W "$(_titactl_jobs "$sock")" -- "$cur"))
		elif [[ $verb == set ]]; then
			COMPREPLY=($(compgen -W "--weight --min --max" -- "$cur"))
		fi
		;;
	esac
} &&
	complete -F _titactl titactl
